//! Reconcile rounds against moto's ECS (through the proxy) and the Consul emulator (CE):
//! which tokens are deleted and which are kept, pages of more than 100 tasks, the calls a
//! round makes, and the loop's life (failed rounds, shutdown).

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{meta, World, CLUSTER};
use testkit::consul::{
    AwsLogin, EmulatorOptions, SeededLogin, CLIENT_AUTH_METHOD, SERVICE_AUTH_METHOD,
};

fn ce() -> World {
    World::new(EmulatorOptions::default())
}

/// Logs in through `method` with the world's task role and `meta`; returns the accessor
/// and the secret.
fn login(
    w: &World,
    method: &str,
    meta: std::collections::BTreeMap<String, String>,
) -> (String, String) {
    let t = w
        .consul
        .aws_login(
            &w.aws,
            w.aws.task_role(),
            &AwsLogin {
                method: method.to_string(),
                meta,
                ..AwsLogin::default()
            },
        )
        .unwrap_or_else(|e| panic!("login: {e}\n{}", w.log()));
    (t.accessor_id, t.secret_id)
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_tokens_of_stopped_tasks_of_this_cluster_are_deleted() {
    common::trace();
    let w = ce();
    // The methods as a deployment has them (endpoints = moto, so logins work); start-up
    // merges into them and keeps the endpoints.
    w.consul.configure_client_auth(&w.aws);
    w.consul.configure_iam_auth(&w.aws, &Default::default());
    let controller = w.controller("/consul-ecs/", None);
    controller
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));

    let arn = w.cluster.arn.clone();
    let running = w.run_mesh_tasks(1, &[]).remove(0);
    let untagged = w
        .ecs()
        .run_tasks(&w.cluster, 1, &[("team", "x")])
        .iter()
        .map(|a| common::task_id(a))
        .next()
        .unwrap();
    let stopped = w.run_mesh_tasks(1, &[]).remove(0);
    let stopping = w.run_mesh_tasks(1, &[]).remove(0);
    let never = "0123456789abcdef0123456789abcdef".to_string();

    let (running_client, _) = login(&w, CLIENT_AUTH_METHOD, meta(&running, &arn));
    let (running_service, _) = login(&w, SERVICE_AUTH_METHOD, meta(&running, CLUSTER));
    let (untagged_service, _) = login(&w, SERVICE_AUTH_METHOD, meta(&untagged, &arn));
    let (stopped_client, _) = login(&w, CLIENT_AUTH_METHOD, meta(&stopped, &arn));
    // EC2 tasks write the short cluster name into the service token's meta.
    let (stopped_service, _) = login(&w, SERVICE_AUTH_METHOD, meta(&stopped, CLUSTER));
    let (stopping_client, _) = login(&w, CLIENT_AUTH_METHOD, meta(&stopping, &arn));
    let (stopping_service, stopping_secret) = login(&w, SERVICE_AUTH_METHOD, meta(&stopping, &arn));
    let (never_service, _) = login(&w, SERVICE_AUTH_METHOD, meta(&never, &arn));
    let other_arn = arn.replace("cluster/prod", "cluster/other");
    let (other_cluster, _) = login(&w, SERVICE_AUTH_METHOD, meta(&never, &other_arn));
    let (other_short, _) = login(&w, CLIENT_AUTH_METHOD, meta(&never, "other"));
    let (no_meta, _) = login(&w, SERVICE_AUTH_METHOD, Default::default());
    let mut partial = meta(&never, &arn);
    partial.remove(common::CLUSTER_META);
    let (partial_meta, _) = login(&w, SERVICE_AUTH_METHOD, partial);
    // Another auth method's token naming a stopped task, and a token not made by login.
    let other_method = w.consul.seed_login_tokens(&[SeededLogin {
        method: "my-other-method".into(),
        meta: meta(&stopped, &arn),
        scope: None,
        method_namespace: None,
    }]);
    let plain = w.consul.create_service_token("web").accessor_id;

    w.stop_task(&stopped);
    w.proxy.mark_stopping(&stopping);

    let before = w.consul.requests().len();
    let report = controller
        .reconcile()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    let deleted: BTreeSet<String> = report.deleted.iter().cloned().collect();
    assert_eq!(
        deleted,
        set(&[&stopped_client, &stopped_service, &never_service]),
        "{report:#?}\n{}",
        w.log()
    );
    assert_eq!(report.stopping_tasks, vec![stopping.clone()], "{report:#?}");
    assert!(report.errors.is_empty(), "{report:#?}");
    for kept in [
        &running_client,
        &running_service,
        &untagged_service,
        &stopping_client,
        &stopping_service,
        &other_cluster,
        &other_short,
        &no_meta,
        &partial_meta,
        &other_method[0],
        &plain,
    ] {
        assert!(
            w.exists(kept),
            "token {kept} must be kept\n{report:#?}\n{}",
            w.log()
        );
    }
    for gone in &deleted {
        assert!(!w.exists(gone), "token {gone} is still there");
    }
    // Tokens are listed by auth method; no token is read one by one.
    let round: Vec<String> = w.consul.requests()[before..]
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert!(
        round.iter().all(|r| !r.starts_with("GET /v1/acl/token/")),
        "{round:#?}"
    );
    assert_eq!(
        round
            .iter()
            .filter(|r| r.starts_with("GET /v1/acl/tokens"))
            .count(),
        2,
        "{round:#?}"
    );
    assert!(round
        .iter()
        .any(|r| r.starts_with("GET /v1/acl/tokens?authmethod=iam-ecs-client-token")));

    // The stopping task's health-sync logs its token out itself, as it shuts down.
    let status = reqwest::Client::new()
        .post(format!("{}/v1/acl/logout", w.consul.http_addr()))
        .header("X-Consul-Token", &stopping_secret)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200, "the stopping task's logout must still work");

    // Once ECS says STOPPED, the rest goes.
    w.stop_task(&stopping);
    w.proxy.clear_stopping(&stopping);
    let report = controller
        .reconcile()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    assert_eq!(
        report.deleted,
        vec![stopping_client.clone()],
        "{report:#?}\n{}",
        w.log()
    );
    assert!(w.exists(&running_client) && w.exists(&untagged_service));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_100_tasks_across_pages_with_one_stopped() {
    let w = ce();
    let controller = w.controller("/consul-ecs/", None);
    controller
        .start_up()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    let tasks = w.run_mesh_tasks(120, &[]);
    let stopped = tasks[57].clone();
    w.stop_task(&stopped);
    // Pages of 50 (ECS allows up to 100), after an empty first page as ECS may send.
    w.proxy.set_page_size(50);
    w.proxy.set_empty_first_page(true);
    let arn = w.cluster.arn.clone();
    let stale = w.seed_task_tokens(&stopped, &arn);
    let mut kept = Vec::new();
    for i in [0, 60, 119] {
        kept.extend(w.seed_task_tokens(&tasks[i], &arn));
    }

    let calls_before = w.proxy.calls().len();
    let report = controller
        .reconcile()
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", w.log()));
    let mut deleted = report.deleted.clone();
    deleted.sort();
    let mut want = stale.clone();
    want.sort();
    assert_eq!(deleted, want, "{report:#?}\n{}", w.log());
    assert!(kept.iter().all(|k| w.exists(k)), "{report:#?}");
    assert_eq!(report.running_tasks, 119, "{report:#?}");
    assert_eq!(report.mesh_tasks, 119);

    let calls: Vec<String> = w.proxy.calls()[calls_before..].to_vec();
    // 4 ListTasks (empty page, 50, 50, 19), 3 DescribeTasks of the pages (none for the empty
    // one), 1 DescribeTasks of the one candidate.
    assert_eq!(
        calls,
        [
            "ListTasks",
            "ListTasks",
            "DescribeTasks",
            "ListTasks",
            "DescribeTasks",
            "ListTasks",
            "DescribeTasks",
            "DescribeTasks"
        ],
        "{report:#?}"
    );
    assert_eq!(report.ecs_calls, 8);
    // Consul: two token lists and the two deletes.
    assert_eq!(report.consul_calls, 4, "{report:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_only_needs_list_and_describe() {
    let w = ce();
    // moto checks the role's policy: anything else is refused.
    let (status, answer) = w.ecs().call_as(
        &w.controller_role.credentials(),
        "ListClusters",
        &serde_json::json!({}),
    );
    assert_eq!(status, 403, "{answer}");
    let (status, answer) = w.ecs().call_as(
        &w.controller_role.credentials(),
        "ListTasks",
        &serde_json::json!({"cluster": w.cluster.arn}),
    );
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loop_survives_failed_rounds_and_stops_on_shutdown() {
    let w = ce();
    let controller = w.controller("/consul-ecs/", None);
    let arn = w.cluster.arn.clone();
    let first = w.seed_task_tokens("00000000000000000000000000000001", &arn);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let run = tokio::spawn(async move {
        controller
            .run(async {
                let _ = stop_rx.await;
            })
            .await;
    });
    let wait_gone = |ids: &[String]| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while ids.iter().any(|id| w.exists(id)) {
            assert!(
                Instant::now() < deadline,
                "tokens not deleted in time\n{}",
                w.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait_gone(&first);
    // Consul fails the next requests: those rounds fail, a later one cleans up.
    w.consul.faults().fail_next(6, 500);
    let second = w.seed_task_tokens("00000000000000000000000000000002", &arn);
    wait_gone(&second);
    // Wall clock: Consul and ECS (moto) answer from other threads and processes, so
    // tokio's paused clock would fire the clients' timeouts early. Generous for a busy
    // machine; what it catches is a shutdown that waits for a round or a retry to end.
    let started = Instant::now();
    stop_tx.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), run)
        .await
        .expect("run returns soon after shutdown")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
    let failed = w
        .consul
        .requests()
        .iter()
        .filter(|r| r.status == 500)
        .count();
    assert_eq!(failed, 6, "{}", w.log());
}
