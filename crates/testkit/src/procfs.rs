//! Which processes a test (or the demo, or the benchmarks) started, from `/proc`: the one
//! child walker they all use to signal, measure and clean up what they spawned.

/// Direct children of `pid`, read from `/proc/<pid>/task/<tid>/children` of every thread
/// (a child is listed under the thread that started it). Empty when `pid` is gone.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for task in tasks.flatten() {
        let listed = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for child in listed.split_whitespace().filter_map(|c| c.parse().ok()) {
            if !found.contains(&child) {
                found.push(child);
            }
        }
    }
    found
}

/// Every process below `pid` (children, grandchildren, …).
pub fn descendants(pid: i32) -> Vec<i32> {
    let mut found: Vec<i32> = Vec::new();
    let mut queue = vec![pid];
    while let Some(p) = queue.pop() {
        for child in children(p) {
            if !found.contains(&child) {
                found.push(child);
                queue.push(child);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grandchild_is_found_below_its_grandparent() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 30 & wait"])
            .spawn()
            .unwrap();
        let me = std::process::id() as i32;
        let sh = child.id() as i32;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while children(sh).is_empty() {
            assert!(std::time::Instant::now() < deadline, "sleep never started");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(children(me).contains(&sh));
        let below = descendants(me);
        assert!(
            below.contains(&sh) && below.contains(&children(sh)[0]),
            "{below:?}"
        );
        for pid in children(sh) {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
