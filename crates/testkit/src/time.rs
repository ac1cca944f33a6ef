//! Dates for the emulators and tools: RFC 3339 in UTC both ways, without a date crate.
//! The one civil-date calculation of the project (Howard Hinnant's algorithms).

/// A time as RFC 3339 with nanoseconds, UTC.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let now = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = now.as_secs() as i64;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        now.subsec_nanos()
    )
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub fn parse_rfc3339(text: &str) -> Result<std::time::SystemTime, String> {
    let bad = || format!("parsing time {text:?}: not RFC 3339");
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        text.get(r).and_then(|t| t.parse().ok()).ok_or_else(bad)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &text[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(frac.len());
        let mut padded = frac[..digits].to_string();
        padded.truncate(9);
        while padded.len() < 9 {
            padded.push('0');
        }
        nanos = padded.parse().map_err(|_| bad())?;
        rest = &frac[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            let hh: i64 = tz[1..3].parse().map_err(|_| bad())?;
            let mm: i64 = tz[4..6].parse().map_err(|_| bad())?;
            sign * (hh * 3600 + mm * 60)
        }
        _ => return Err(bad()),
    };
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return Err(bad());
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    let secs = u64::try_from(secs).map_err(|_| bad())?;
    Ok(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos))
}

/// (year, month, day) → days since 1970-01-01, Howard Hinnant's algorithm.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A time as RFC 3339 UTC with milliseconds (the ECS agent's timestamps).
pub fn rfc3339_millis(t: std::time::SystemTime) -> String {
    let full = rfc3339(t);
    // `…SS.nnnnnnnnnZ` → `…SS.mmmZ`
    format!("{}Z", &full[..full.len() - 7])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_769), (2024, 2, 16));
        assert_eq!(days_from_civil(2024, 2, 16), 19_769);
        let t = parse_rfc3339("2024-02-16T12:00:12.345678901Z").unwrap();
        assert_eq!(rfc3339(t), "2024-02-16T12:00:12.345678901Z");
        let t2 = parse_rfc3339("2024-02-16T13:00:12.345678901+01:00").unwrap();
        assert_eq!(t, t2);
        assert!(parse_rfc3339("2024-02-16 12:00:00Z").is_err());
        assert!(parse_rfc3339("2024-13-16T12:00:00Z").is_err());
    }

    #[test]
    fn milliseconds_are_cut_not_rounded() {
        let t = parse_rfc3339("2024-02-16T12:00:12.345678901Z").unwrap();
        assert_eq!(rfc3339_millis(t), "2024-02-16T12:00:12.345Z");
    }
}
