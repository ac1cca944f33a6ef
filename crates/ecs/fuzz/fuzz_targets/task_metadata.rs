//! Whatever bytes the metadata endpoint returns, decoding must fail cleanly or produce a
//! document whose derived values hold their invariants; nothing may panic.
#![no_main]

use ecs::TaskMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(task) = serde_json::from_slice::<TaskMetadata>(data) else {
        return;
    };
    if let Ok(id) = task.task_id() {
        assert!(!id.is_empty() && !id.contains('/'));
    }
    if let Ok(region) = task.region() {
        assert!(!region.is_empty() && !region.contains(':'));
    }
    if let Ok(account) = task.account_id() {
        assert!(!account.is_empty() && !account.contains(':'));
    }
    if let Ok(arn) = task.cluster_arn() {
        assert!(arn.starts_with("arn:"));
    }
    assert!(!task.node_ip().is_empty());
    let _ = task.applications_stopped();
    for c in &task.containers {
        let _ = (c.is_stopped(), c.is_application(), c.health_status(), c.is_healthy());
    }
});
