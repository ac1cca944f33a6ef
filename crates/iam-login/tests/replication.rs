//! `wait_for_replication` against an emulator whose followers lag: the retry path runs,
//! and a token that never replicates in time is reported as such.

use std::time::Duration;

use consul::{Client, ClientConfig, Secret};
use iam_login::wait_for_replication;
use testkit::consul::{ConsulEmulator, EmulatorOptions};

fn stale_reads(consul: &ConsulEmulator) -> Vec<u16> {
    consul
        .requests()
        .iter()
        .filter(|r| r.path == "/v1/acl/token/self" && r.query.contains("stale"))
        .map(|r| r.status)
        .collect()
}

fn lagging(lag: Duration) -> (ConsulEmulator, Client) {
    let consul = ConsulEmulator::start(EmulatorOptions {
        acls_enabled: true,
        replication_lag: lag,
        ..Default::default()
    });
    let client = Client::new(
        ClientConfig::default()
            .with_address(&consul.http_addr())
            .unwrap(),
    )
    .unwrap();
    (consul, client)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_replicates_late_is_waited_for() {
    let (consul, server) = lagging(Duration::from_millis(500));
    let token = tokio::task::block_in_place(|| consul.create_service_token("web"));
    wait_for_replication(&server, &Secret::new(token.secret_id))
        .await
        .expect("readable once replicated");
    let reads = stale_reads(&consul);
    assert!(
        reads.len() >= 3 && reads.last() == Some(&200),
        "refused while lagging, then read: {reads:?}\n{}",
        consul.request_log()
    );
    assert!(
        reads[..reads.len() - 1].iter().all(|s| *s != 200),
        "{reads:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_does_not_replicate_in_time_is_reported() {
    let (consul, server) = lagging(Duration::from_secs(30));
    let token = tokio::task::block_in_place(|| consul.create_service_token("web"));
    let err = wait_for_replication(&server, &Secret::new(token.secret_id))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("please check that your server cluster is healthy"),
        "{err}"
    );
    assert!(stale_reads(&consul).len() >= 10, "{}", consul.request_log());
}
