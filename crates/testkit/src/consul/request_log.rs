//! The emulator's request log: a ring buffer, so an emulator that runs for days (the
//! compose file's Consul stand-in) keeps a bounded memory. Tests read it whole
//! ([`RequestLog::retained`]); a follower that prints it reads what came after the last
//! request it saw by the total count ([`RequestLog::after`]), which keeps counting when the
//! oldest entries are dropped.

use std::collections::VecDeque;

use crate::http_server::RecordedRequest;

/// How many requests an emulator keeps by default: about 2 MB, far more than any test makes.
pub const DEFAULT_REQUEST_LOG_CAP: usize = 10_000;

/// The last `cap` requests and how many there were in all.
#[derive(Debug)]
pub(crate) struct RequestLog {
    entries: VecDeque<RecordedRequest>,
    cap: usize,
    total: u64,
}

impl RequestLog {
    /// An empty log keeping at most `cap` requests (at least one).
    pub(crate) fn new(cap: usize) -> RequestLog {
        RequestLog {
            entries: VecDeque::new(),
            cap: cap.max(1),
            total: 0,
        }
    }

    pub(crate) fn push(&mut self, request: RecordedRequest) {
        if self.entries.len() == self.cap {
            self.entries.pop_front();
        }
        self.entries.push_back(request);
        self.total += 1;
    }

    /// The requests kept, oldest first.
    pub(crate) fn retained(&self) -> Vec<RecordedRequest> {
        self.entries.iter().cloned().collect()
    }

    /// The kept requests after the first `seen` of all time, and the total count to pass
    /// next time. Requests dropped before they were read are skipped.
    pub(crate) fn after(&self, seen: u64) -> (Vec<RecordedRequest>, u64) {
        let first_kept = self.total - self.entries.len() as u64;
        let skip = seen.saturating_sub(first_kept);
        let new = self
            .entries
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .cloned()
            .collect();
        (new, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(n: u16) -> RecordedRequest {
        RecordedRequest {
            at: std::time::Instant::now(),
            method: "GET".into(),
            path: format!("/v1/{n}"),
            query: String::new(),
            status: 200,
            had_token: false,
        }
    }

    fn paths(list: &[RecordedRequest]) -> Vec<&str> {
        list.iter().map(|r| r.path.as_str()).collect()
    }

    #[test]
    fn keeps_the_last_cap_requests_and_counts_them_all() {
        let mut log = RequestLog::new(3);
        for n in 1..=5 {
            log.push(request(n));
        }
        assert_eq!(paths(&log.retained()), ["/v1/3", "/v1/4", "/v1/5"]);
        let (new, total) = log.after(0);
        assert_eq!((paths(&new), total), (vec!["/v1/3", "/v1/4", "/v1/5"], 5));
        let (new, total) = log.after(4);
        assert_eq!((paths(&new), total), (vec!["/v1/5"], 5));
        assert!(log.after(5).0.is_empty());
        log.push(request(6));
        assert_eq!(paths(&log.after(5).0), ["/v1/6"]);
    }
}
