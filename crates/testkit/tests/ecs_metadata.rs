//! The ECS task metadata emulator: paths, scripting, faults, the control API, and that it
//! starts and stops cleanly from both sync and async tests.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::ecs_metadata::{
    ec2_task, fargate_task, EcsMetadataEmulator, ACCOUNT_ID, CLUSTER_NAME, EC2_NODE_IP, EC2_REGION,
    FARGATE_NODE_IP, FARGATE_REGION, PAUSE_CONTAINER_NAME,
};

const CONTAINERS: &[&str] = &[
    "web",
    "sidecar-proxy",
    "consul-client",
    "consul-ecs-mesh-init",
    "consul-ecs-health-sync",
];

async fn get(url: &str) -> (u16, String) {
    let resp = reqwest::Client::new().get(url).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

async fn get_json(url: &str) -> Value {
    let (status, body) = get(url).await;
    assert_eq!(status, 200, "GET {url}: {body}");
    serde_json::from_str(&body).unwrap()
}

async fn send(method: reqwest::Method, url: &str, body: Option<Value>) -> (u16, String) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

fn container<'a>(task: &'a Value, name: &str) -> &'a Value {
    task["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == name)
        .unwrap_or_else(|| panic!("no container {name} in {task:#}"))
}

fn control(emu: &EcsMetadataEmulator, path: &str) -> String {
    format!("http://{}/_control/{path}", emu.addr())
}

#[test]
fn fargate_task_has_the_documented_shape() {
    let task = fargate_task("web", CONTAINERS);
    assert_eq!(
        task["Cluster"],
        format!("arn:aws:ecs:{FARGATE_REGION}:{ACCOUNT_ID}:cluster/{CLUSTER_NAME}")
    );
    let arn = task["TaskARN"].as_str().unwrap();
    let prefix = format!("arn:aws:ecs:us-east-1:{ACCOUNT_ID}:task/{CLUSTER_NAME}/");
    let id = arn.strip_prefix(&prefix).unwrap_or_else(|| panic!("{arn}"));
    assert_eq!(id.len(), 32);
    assert!(
        id.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()),
        "{id}"
    );
    assert_ne!(
        fargate_task("web", CONTAINERS)["TaskARN"],
        task["TaskARN"],
        "fresh task IDs"
    );
    assert_eq!(task["Family"], "web");
    assert_eq!(task["LaunchType"], "FARGATE");
    let containers = task["Containers"].as_array().unwrap();
    assert_eq!(containers.len(), CONTAINERS.len());
    for (c, name) in containers.iter().zip(CONTAINERS) {
        assert_eq!(c["Name"], *name);
        assert_eq!(c["DesiredStatus"], "RUNNING");
        assert_eq!(c["KnownStatus"], "RUNNING");
        assert_eq!(c["Type"], "NORMAL");
        assert_eq!(c["Networks"][0]["NetworkMode"], "awsvpc");
        assert_eq!(c["Networks"][0]["IPv4Addresses"][0], FARGATE_NODE_IP);
        assert!(
            c.get("Health").is_none(),
            "no health check until one is scripted"
        );
        assert!(c["DockerId"].as_str().unwrap().starts_with(id));
    }
}

#[test]
fn ec2_task_lists_the_pause_container_first() {
    let task = ec2_task("web", &["web", "sidecar-proxy"]);
    assert_eq!(task["Cluster"], CLUSTER_NAME);
    assert!(task["TaskARN"]
        .as_str()
        .unwrap()
        .starts_with(&format!("arn:aws:ecs:{EC2_REGION}:")));
    assert_eq!(task["LaunchType"], "EC2");
    let containers = task["Containers"].as_array().unwrap();
    assert_eq!(containers.len(), 3);
    assert_eq!(containers[0]["Name"], PAUSE_CONTAINER_NAME);
    assert_eq!(containers[0]["Type"], "CNI_PAUSE");
    assert_eq!(containers[0]["DesiredStatus"], "RESOURCES_PROVISIONED");
    for c in containers {
        assert_eq!(c["Networks"][0]["IPv4Addresses"][0], EC2_NODE_IP);
        assert_eq!(c["DockerId"].as_str().unwrap().len(), 64);
    }
    assert_ne!(containers[1]["DockerId"], containers[2]["DockerId"]);
}

#[test]
fn works_from_a_plain_test_and_stops_on_drop() {
    let task = fargate_task("web", CONTAINERS);
    let emu = EcsMetadataEmulator::start(task.clone());
    let addr = emu.addr();
    assert!(addr.ip().is_loopback());
    let uri = emu.uri();
    assert!(
        uri.starts_with(&format!("http://127.0.0.1:{}/v4/", addr.port())),
        "{uri}"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(get_json(&format!("{uri}/task")));
    assert_eq!(got, task);
    drop(emu);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the port must be closed after drop"
    );
}

#[tokio::test]
async fn works_inside_a_tokio_test_and_drops_without_panicking() {
    let emu = EcsMetadataEmulator::start(ec2_task("web", &["web"]));
    let addr = emu.addr();
    // A request parked on a long delay must not hold up the drop.
    emu.set_delay(Duration::from_secs(30));
    let uri = emu.uri();
    let parked = tokio::spawn(async move { reqwest::get(format!("{uri}/task")).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    drop(emu);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(
        parked.await.unwrap().is_err(),
        "the parked request fails when the server goes away"
    );
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn serves_task_container_and_task_with_tags() {
    let task = fargate_task("web", CONTAINERS);
    let emu = EcsMetadataEmulator::start(task.clone());
    let uri = emu.uri();
    assert_eq!(get_json(&format!("{uri}/task")).await, task);
    assert_eq!(
        get_json(&uri).await,
        task["Containers"][0],
        "GET <uri> is the calling container"
    );
    let tagged = get_json(&format!("{uri}/taskWithTags")).await;
    assert_eq!(tagged["TaskTags"], json!({}));
    assert_eq!(tagged["TaskARN"], task["TaskARN"]);

    // Wrong container id and unknown paths are 404s, and are logged.
    let base = format!("http://{}", emu.addr());
    assert_eq!(get(&format!("{base}/v4/someone-else/task")).await.0, 404);
    assert_eq!(get(&format!("{base}/v3/task")).await.0, 404);
    let log: Vec<(String, u16)> = emu
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    let id_path = uri.trim_start_matches(&base).to_string();
    assert_eq!(
        log,
        [
            (format!("{id_path}/task"), 200),
            (id_path.clone(), 200),
            (format!("{id_path}/taskWithTags"), 200),
            ("/v4/someone-else/task".to_string(), 404),
            ("/v3/task".to_string(), 404),
        ]
    );
    assert_eq!(emu.request_count(), 5);
}

#[tokio::test]
async fn scripted_changes_show_up_in_the_next_get() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", CONTAINERS));
    let url = format!("{}/task", emu.uri());

    emu.set_container_health("web", "UNKNOWN");
    let task = get_json(&url).await;
    assert_eq!(container(&task, "web")["Health"]["status"], "UNKNOWN");
    let since = container(&task, "web")["Health"]["statusSince"].clone();
    assert!(since.is_string());

    emu.set_container_health("web", "HEALTHY");
    let task = get_json(&url).await;
    assert_eq!(container(&task, "web")["Health"]["status"], "HEALTHY");

    emu.set_container_status("web", "STOPPED", "RUNNING");
    let task = get_json(&url).await;
    assert_eq!(container(&task, "web")["DesiredStatus"], "STOPPED");
    assert_eq!(container(&task, "web")["KnownStatus"], "RUNNING");
    assert!(container(&task, "web").get("ExitCode").is_none());

    emu.stop_container("web");
    let task = get_json(&url).await;
    assert_eq!(container(&task, "web")["KnownStatus"], "STOPPED");
    assert_eq!(container(&task, "web")["ExitCode"], 0);
    assert_eq!(emu.task(), task, "task() returns what is served");

    emu.remove_container("consul-client");
    let task = get_json(&url).await;
    assert_eq!(
        task["Containers"].as_array().unwrap().len(),
        CONTAINERS.len() - 1
    );
    assert!(task["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["Name"] != "consul-client"));

    emu.set_task(json!({"Family": "other", "Containers": []}));
    assert_eq!(
        get_json(&url).await,
        json!({"Family": "other", "Containers": []})
    );
    assert_eq!(
        get(&emu.uri()).await.0,
        404,
        "no containers: no calling container"
    );
}

#[test]
#[should_panic(expected = "no container named \"nope\"")]
fn scripting_an_unknown_container_panics_with_its_name() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    emu.stop_container("nope");
}

#[tokio::test]
async fn fail_next_answers_with_the_status_then_recovers() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    let url = format!("{}/task", emu.uri());
    emu.fail_next(2, 503);
    for _ in 0..2 {
        let (status, body) = get(&url).await;
        assert_eq!(status, 503);
        assert!(body.contains("503"), "{body}");
    }
    assert_eq!(get(&url).await.0, 200);
    let statuses: Vec<u16> = emu.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);
}

#[tokio::test]
async fn delay_holds_answers_and_the_log_has_arrival_times() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    let url = format!("{}/task", emu.uri());
    emu.set_delay(Duration::from_millis(300));
    let started = Instant::now();
    assert_eq!(get(&url).await.0, 200);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300),
        "answered after {took:?}"
    );
    emu.set_delay(Duration::ZERO);

    emu.clear_requests();
    let before = Instant::now();
    for _ in 0..3 {
        get(&url).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = emu.requests();
    assert_eq!(log.len(), 3, "{}", emu.request_log());
    assert!(log[0].at >= before);
    for pair in log.windows(2) {
        let gap = pair[1].at - pair[0].at;
        assert!(
            gap >= Duration::from_millis(100),
            "gap {gap:?}\n{}",
            emu.request_log()
        );
    }
    assert_eq!(emu.request_log().lines().count(), 3);
}

#[tokio::test]
async fn control_api_scripts_the_task_over_http() {
    use reqwest::Method;
    let emu = EcsMetadataEmulator::start(fargate_task("web", CONTAINERS));
    let url = format!("{}/task", emu.uri());

    assert_eq!(
        get_json(&control(&emu, "uri")).await,
        json!({"uri": emu.uri()})
    );
    assert_eq!(get_json(&control(&emu, "task")).await, emu.task());

    let (status, body) = send(
        Method::PUT,
        &control(&emu, "containers/web/health"),
        Some(json!({"status": "UNHEALTHY"})),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        container(&get_json(&url).await, "web")["Health"]["status"],
        "UNHEALTHY"
    );

    let (status, body) = send(
        Method::PUT,
        &control(&emu, "containers/web/health"),
        Some(json!({"status": "GREEN"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("GREEN"), "{body}");

    let (status, _) = send(
        Method::PUT,
        &control(&emu, "containers/sidecar-proxy/status"),
        Some(json!({"desired": "STOPPED", "known": "RUNNING"})),
    )
    .await;
    assert_eq!(status, 204);
    let task = get_json(&url).await;
    assert_eq!(
        container(&task, "sidecar-proxy")["DesiredStatus"],
        "STOPPED"
    );
    assert_eq!(container(&task, "sidecar-proxy")["KnownStatus"], "RUNNING");

    let (status, _) = send(
        Method::PUT,
        &control(&emu, "containers/consul-client/status"),
        Some(json!({"desired": "STOPPED", "known": "STOPPED", "exitCode": 137})),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        container(&get_json(&url).await, "consul-client")["ExitCode"],
        137
    );

    assert_eq!(
        send(Method::POST, &control(&emu, "containers/web/stop"), None)
            .await
            .0,
        204
    );
    let task = get_json(&url).await;
    assert_eq!(container(&task, "web")["DesiredStatus"], "STOPPED");
    assert_eq!(container(&task, "web")["KnownStatus"], "STOPPED");
    assert_eq!(container(&task, "web")["ExitCode"], 0);

    assert_eq!(
        send(
            Method::DELETE,
            &control(&emu, "containers/consul-ecs-mesh-init"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        emu.task()["Containers"].as_array().unwrap().len(),
        CONTAINERS.len() - 1
    );

    let (status, body) = send(Method::POST, &control(&emu, "containers/ghost/stop"), None).await;
    assert_eq!(status, 404);
    assert!(body.contains("ghost"), "{body}");
    assert_eq!(
        send(Method::GET, &control(&emu, "nothing-here"), None)
            .await
            .0,
        404
    );

    let replacement = json!({"Family": "replaced", "Containers": [{"Name": "x"}]});
    assert_eq!(
        send(
            Method::PUT,
            &control(&emu, "task"),
            Some(replacement.clone())
        )
        .await
        .0,
        204
    );
    assert_eq!(get_json(&url).await, replacement);

    // Control requests are not logged; metadata requests so far: 5.
    assert_eq!(emu.request_count(), 5);
    assert_eq!(
        send(
            Method::POST,
            &control(&emu, "fail"),
            Some(json!({"count": 1, "status": 502}))
        )
        .await
        .0,
        204
    );
    assert_eq!(get(&url).await.0, 502);
    assert_eq!(get(&url).await.0, 200);

    assert_eq!(
        send(
            Method::PUT,
            &control(&emu, "delay"),
            Some(json!({"millis": 200}))
        )
        .await
        .0,
        204
    );
    let started = Instant::now();
    assert_eq!(get(&url).await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(
        send(
            Method::PUT,
            &control(&emu, "delay"),
            Some(json!({"millis": 0}))
        )
        .await
        .0,
        204
    );

    let log = get_json(&control(&emu, "requests")).await;
    let log = log.as_array().unwrap();
    assert_eq!(log.len(), 8);
    let statuses: Vec<u64> = log.iter().map(|r| r["status"].as_u64().unwrap()).collect();
    assert_eq!(&statuses[5..], [502, 200, 200]);
    let times: Vec<u64> = log
        .iter()
        .map(|r| r["atMillis"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert!(log
        .iter()
        .all(|r| r["method"] == "GET" && r["path"].as_str().unwrap().ends_with("/task")));

    assert_eq!(
        send(Method::DELETE, &control(&emu, "requests"), None)
            .await
            .0,
        204
    );
    assert_eq!(emu.request_count(), 0);
}

#[test]
fn control_shutdown_ends_wait() {
    let emu = EcsMetadataEmulator::start(fargate_task("web", &["web"]));
    let addr = emu.addr();
    let url = control(&emu, "shutdown");
    let waiter = std::thread::spawn(move || emu.wait());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(send(reqwest::Method::POST, &url, None)).0;
    assert_eq!(status, 204);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !waiter.is_finished() {
        assert!(
            Instant::now() < deadline,
            "wait() did not return after POST /_control/shutdown"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    waiter.join().unwrap();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn start_on_a_busy_port_reports_the_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let err = EcsMetadataEmulator::try_start_on(port, json!({})).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
    let free = testkit::paths::free_port();
    let emu = EcsMetadataEmulator::start_on(free, json!({}));
    assert_eq!(emu.addr().port(), free);
}

#[tokio::test]
async fn per_container_uris_answer_for_that_container() {
    let task = fargate_task("web", CONTAINERS);
    let emu = EcsMetadataEmulator::start(task.clone());
    let proxy_uri = emu.uri_for("sidecar-proxy");
    assert!(proxy_uri.starts_with(&emu.uri()), "{proxy_uri}");
    assert_ne!(proxy_uri, emu.uri());
    assert_eq!(get_json(&proxy_uri).await["Name"], "sidecar-proxy");
    assert_eq!(get_json(&format!("{proxy_uri}/task")).await, task);
    emu.remove_container("sidecar-proxy");
    assert_eq!(get(&proxy_uri).await.0, 404);
    let foreign = format!(
        "http://{}/v4/0123456789abcdef0123456789abcdef-web/task",
        emu.addr()
    );
    assert_eq!(get(&foreign).await.0, 404, "another task's id");
}
