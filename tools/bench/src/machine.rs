//! Facts about the machine the figures come from, so a reader can judge them (and see how
//! busy the machine was: the load average at the start).

use std::fs;
use std::process::Command;

/// Machine facts as (name, value) rows for the report.
pub fn facts() -> Vec<(String, String)> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let os_release = fs::read_to_string("/etc/os-release").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut rows = vec![
        (
            "CPU",
            cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
        ),
        ("Cores (available to this process)", cores.to_string()),
        (
            "Memory",
            crate::proc::status_field_kib(&meminfo, "MemTotal").map_or_else(
                || "unknown".into(),
                |kib| format!("{:.1} GiB", kib as f64 / 1048576.0),
            ),
        ),
        ("Kernel", read_trimmed("/proc/sys/kernel/osrelease")),
        (
            "OS",
            os_name(&os_release).unwrap_or_else(|| "unknown".into()),
        ),
        ("rustc", command_output("rustc", &["--version"])),
        (
            "Date (UTC)",
            command_output("date", &["-u", "+%Y-%m-%d %H:%M:%S"]),
        ),
        (
            "Load average at start (1/5/15 min)",
            read_trimmed("/proc/loadavg")
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    rows.retain(|(_, v)| !v.is_empty());
    rows.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The first `model name` of `/proc/cpuinfo` text.
pub fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// `PRETTY_NAME` of `/etc/os-release` text, unquoted.
pub fn os_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|line| {
        let value = line.strip_prefix("PRETTY_NAME=")?;
        Some(value.trim_matches('"').to_string())
    })
}

fn read_trimmed(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_is_the_first_model_name() {
        let info = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\n\nprocessor\t: 1\nmodel name\t: Other\n";
        assert_eq!(
            cpu_model(info).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(cpu_model("processor: 0\n"), None);
    }

    #[test]
    fn os_name_is_unquoted() {
        let rel = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_name(rel).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn facts_on_this_machine_name_cores_and_kernel() {
        let facts = facts();
        let names: Vec<&str> = facts.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names.contains(&"Cores (available to this process)"),
            "{facts:?}"
        );
        assert!(names.contains(&"Kernel"), "{facts:?}");
    }
}
