//! The `consul-ecs-testkit` binary, run for real: it starts, answers HTTP, configures the
//! IAM auth methods against moto, and exits 0 on SIGTERM and SIGINT.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};
use testkit::aws::AwsWorld;

const BIN: &str = env!("CARGO_BIN_EXE_consul-ecs-testkit");

/// A running binary; killed if a test fails before stopping it.
struct Running {
    child: Child,
    first_line: String,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first_line = String::new();
        stdout.read_line(&mut first_line).unwrap();
        if first_line.is_empty() {
            let mut err = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("{BIN} {args:?} printed nothing; stderr:\n{err}");
        }
        Running {
            child,
            first_line: first_line.trim_end().to_string(),
        }
    }

    /// Sends `signal` and returns the exit code, failing if it takes over 5 s.
    fn stop(mut self, signal: Signal) -> Option<i32> {
        kill(Pid::from_raw(self.child.id() as i32), signal).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "still running 5 s after {signal}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.header("X-Consul-Token", t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn consul_answers_and_stops_on_sigterm() {
    let consul = Running::start(&["consul", "--acls", "--management-token", "mgmt-secret"]);
    let addr = consul
        .first_line
        .strip_prefix("consul emulator listening on ")
        .unwrap_or_else(|| panic!("{}", consul.first_line))
        .to_string();
    assert!(addr.starts_with("http://127.0.0.1:"), "{addr}");
    let (status, body) = get(&format!("{addr}/v1/status/leader"), None).await;
    assert_eq!(status, 200, "{body}");
    // ACLs on: the management token works, none is refused.
    let (status, _) = get(&format!("{addr}/v1/acl/tokens"), Some("mgmt-secret")).await;
    assert_eq!(status, 200);
    let (status, _) = get(&format!("{addr}/v1/acl/tokens"), None).await;
    assert_eq!(status, 403);
    assert_eq!(consul.stop(Signal::SIGTERM), Some(0));
    assert!(
        reqwest::get(format!("{addr}/v1/status/leader"))
            .await
            .is_err(),
        "still answering after exit"
    );
}

#[tokio::test]
async fn consul_serves_the_grpc_services_on_request() {
    let consul = Running::start(&[
        "consul",
        "--acls",
        "--management-token",
        "mgmt-secret",
        "--grpc-port",
        "0",
    ]);
    let grpc_addr: std::net::SocketAddr = consul
        .first_line
        .split_once("(gRPC ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{}", consul.first_line))
        .parse()
        .unwrap();
    let hosts = consul_grpc::ServerHosts::parse(&grpc_addr.ip().to_string()).unwrap();
    let conn = consul_grpc::ServerConnection::connect(consul_grpc::ConnectSettings::new(
        hosts,
        grpc_addr.port(),
        None,
    ))
    .await
    .unwrap();
    let token = consul_grpc::Secret::new("mgmt-secret");
    let mut stream = conn.client().watch_servers(Some(&token)).await.unwrap();
    let servers = stream.next().await.unwrap().unwrap();
    assert_eq!(servers[0].address, grpc_addr.ip().to_string());
    let err = conn.client().watch_servers(None).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unauthenticated), "{err}");
    drop(stream);
    assert_eq!(consul.stop(Signal::SIGTERM), Some(0));
}

#[tokio::test]
async fn consul_with_iam_auth_lets_a_task_role_log_in() {
    let aws = AwsWorld::start_async("web").await;
    let sts = aws.endpoint();
    let consul = Running::start(&[
        "consul",
        "--acls",
        "--management-token",
        "mgmt-secret",
        "--iam-auth",
        "--client-auth",
        "--sts-endpoint",
        &sts,
    ]);
    let addr = consul.first_line.rsplit(' ').next().unwrap().to_string();
    let (status, body) = get(
        &format!("{addr}/v1/acl/auth-method/iam-ecs-service-token"),
        Some("mgmt-secret"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let method: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(method["Config"]["STSEndpoint"], json!(sts));
    assert_eq!(method["Config"]["IAMEndpoint"], json!(sts));

    for (auth_method, field, want) in [
        (
            "iam-ecs-service-token",
            "ServiceIdentities",
            json!([{"ServiceName": "web"}]),
        ),
        (
            "iam-ecs-client-token",
            "Roles",
            json!([{"Name": "consul-ecs-client-role"}]),
        ),
    ] {
        let params = iam_login::LoginParams {
            region: "us-east-1".to_string(),
            sts_endpoint: Some(sts.clone()),
            server_id_header_value: None,
            include_entity: true,
        };
        let bearer = iam_login::bearer_token(&aws.credentials(aws.task_role()), &params)
            .await
            .unwrap();
        let resp = reqwest::Client::new()
            .post(format!("{addr}/v1/acl/login"))
            .body(json!({"AuthMethod": auth_method, "BearerToken": bearer}).to_string())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let token: Value = serde_json::from_str(&resp.text().await.unwrap()).unwrap();
        assert_eq!(status, 200, "{token}");
        let mut got = token[field].clone();
        if field == "Roles" {
            // Compare names only: the ID is generated.
            got = json!([{"Name": got[0]["Name"]}]);
        }
        assert_eq!(got, want, "{auth_method}: {token}");
    }
    assert_eq!(consul.stop(Signal::SIGINT), Some(0));
}

#[tokio::test]
async fn ecs_metadata_serves_the_task_and_takes_control_requests() {
    let ecs = Running::start(&[
        "ecs-metadata",
        "--family",
        "api",
        "--containers",
        "app,sidecar-proxy",
    ]);
    let uri = ecs
        .first_line
        .strip_prefix("ECS_CONTAINER_METADATA_URI_V4=")
        .unwrap_or_else(|| panic!("{}", ecs.first_line))
        .to_string();
    let (status, body) = get(&format!("{uri}/task"), None).await;
    assert_eq!(status, 200, "{body}");
    let task: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(task["Family"], "api");
    let names: Vec<&str> = task["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["app", "sidecar-proxy"]);

    // A script flips health through the control API.
    let base = uri.split("/v4/").next().unwrap().to_string();
    let resp = reqwest::Client::new()
        .put(format!("{base}/_control/containers/app/health"))
        .body(r#"{"status":"UNHEALTHY"}"#)
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let task: Value = serde_json::from_str(&get(&format!("{uri}/task"), None).await.1).unwrap();
    assert_eq!(task["Containers"][0]["Health"]["status"], "UNHEALTHY");
    assert_eq!(ecs.stop(Signal::SIGTERM), Some(0));
}

#[test]
fn ecs_metadata_serves_a_task_file_and_help_shows_examples() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("task.json");
    let doc = json!({"Cluster": "c", "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/abc",
        "Family": "from-file", "Containers": [{"Name": "only", "DockerId": "d"}]});
    std::fs::write(&path, doc.to_string()).unwrap();
    let ecs = Running::start(&["ecs-metadata", "--task-file", path.to_str().unwrap()]);
    let uri = ecs.first_line.split_once('=').unwrap().1.to_string();
    let body = blocking_get(&format!("{uri}/task"));
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), doc);
    assert_eq!(ecs.stop(Signal::SIGINT), Some(0));

    let help = Command::new(BIN).arg("--help").output().unwrap();
    assert!(help.status.success());
    let text = String::from_utf8(help.stdout).unwrap();
    for needle in [
        "Examples:",
        "consul-ecs-testkit consul",
        "ecs-metadata",
        "--iam-auth",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    let bad = Command::new(BIN)
        .args(["consul", "--iam-auth"])
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(2),
        "--iam-auth without --sts-endpoint"
    );
}

/// A plain GET from a sync test (a throwaway runtime).
fn blocking_get(url: &str) -> String {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { reqwest::get(url).await.unwrap().text().await.unwrap() })
}
