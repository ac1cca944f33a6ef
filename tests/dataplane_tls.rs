//! The v0.10 (Consul Dataplane) layout over TLS and across servers, end to end: the built
//! binary against Consul servers played by one emulator behind several listeners — each
//! server a gRPC port (TLS, the server watch and the login) and an HTTPS API on
//! `consulServers.http.port` of its own loopback address (127.0.0.1, 127.0.0.2), each with
//! its own request log, so a test sees which server every call went to. Certificates come
//! from a throw-away CA made for each run (testkit::pki, the `openssl` CLI).
//!
//! - TLS on by default for gRPC and HTTPS, the CAs from `CONSUL_GRPC_CACERT_PEM` /
//!   `CONSUL_HTTPS_CACERT_PEM` or from `caCertFile`, `tlsServerName`; the bootstrap files
//!   consul-dataplane reads (`consul-grpc-ca-cert.pem` 0444, `consul.tls`).
//! - A certificate the task does not trust, or not for the name: exit 2 with the address and
//!   the reason, no secret printed, nothing left registered, no token left; TLS is never
//!   dropped to reach a plain server.
//! - The server switch: when `WatchServers` reports a set without the connected server,
//!   the next HTTP calls go to the new server (health-sync while it runs; mesh-init while
//!   it retries against a server whose HTTP API is gone).
//! - `skipServerWatch`: no `WatchServers` call at all.

mod util;

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions, FrontEnd, FrontEndOptions, IamAuthOptions};
use testkit::consul_grpc::{self, ConsulGrpcServer, GrpcServerOptions, ServerList};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};
use testkit::pki::{self, Ca, Issued};
use util::background::Background;
use util::{Run, TestCommand};

const SERVER_ID: &str = "consul.test.example";
/// The name the servers' certificate carries (as Consul's `server.<dc>.<domain>`).
const SERVER_NAME: &str = "server.dc1.consul";
const WATCH_SERVERS: &str = "/hashicorp.consul.serverdiscovery.ServerDiscoveryService/WatchServers";
const LOGIN: &str = "/hashicorp.consul.acl.ACLService/Login";

fn server_ip(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// The test CA, another CA the task must not trust, and certificates the first signed.
struct Pki {
    _dir: tempfile::TempDir,
    ca: Ca,
    other: Ca,
    /// For the servers by address and by [`SERVER_NAME`].
    servers: Issued,
    /// For [`SERVER_NAME`] only: reachable only with `tlsServerName`.
    by_name: Issued,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new(dir.path(), "consul");
        let other = Ca::new(dir.path(), "other");
        let servers = ca.server(
            "servers",
            &format!("DNS:{SERVER_NAME},IP:127.0.0.1,IP:127.0.0.2"),
        );
        let by_name = ca.server("by-name", &format!("DNS:{SERVER_NAME}"));
        Pki {
            _dir: dir,
            ca,
            other,
            servers,
            by_name,
        }
    }

    fn ca_pem(&self) -> String {
        fs::read_to_string(&self.ca.cert).unwrap()
    }

    fn other_pem(&self) -> String {
        fs::read_to_string(&self.other.cert).unwrap()
    }
}

/// One Consul server of the cluster: its gRPC port and its HTTP(S) API.
struct Server {
    grpc: ConsulGrpcServer,
    http: Option<FrontEnd>,
}

/// Consul servers on 127.0.0.1, 127.0.0.2…: one emulator's state, each server on the same
/// gRPC and HTTP ports of its own address, all reporting one server list.
struct Cluster {
    consul: ConsulEmulator,
    servers: Vec<Server>,
    list: ServerList,
    grpc_port: u16,
    http_port: u16,
}

impl Cluster {
    /// `count` servers, over TLS with `cert` (`None`: plain gRPC and HTTP).
    fn start(consul: ConsulEmulator, count: u8, cert: Option<&Issued>) -> Cluster {
        let list = ServerList::new(
            (1..=count)
                .map(|n| consul_grpc::server(&format!("server-{n}"), server_ip(n)))
                .collect(),
        );
        // The same ports on every address: an ephemeral port of 127.0.0.1 may be taken on
        // another loopback address, so a clash means another pair of ports.
        for _ in 0..20 {
            if let Some(servers) = Self::try_servers(&consul, count, cert, &list) {
                let grpc_port = servers[0].grpc.addr().port();
                let http_port = servers[0].http.as_ref().unwrap().addr().port();
                return Cluster {
                    consul,
                    servers,
                    list,
                    grpc_port,
                    http_port,
                };
            }
        }
        panic!("no pair of ports free on every server address");
    }

    fn try_servers(
        consul: &ConsulEmulator,
        count: u8,
        cert: Option<&Issued>,
        list: &ServerList,
    ) -> Option<Vec<Server>> {
        let (mut grpc_port, mut http_port) = (0, 0);
        let mut servers = Vec::new();
        for n in 1..=count {
            let grpc = ConsulGrpcServer::start(
                consul,
                GrpcServerOptions {
                    ip: server_ip(n),
                    port: grpc_port,
                    tls: cert.map(|c| pki::server_config(c, &[b"h2"])),
                    servers: Some(list.clone()),
                    ..GrpcServerOptions::default()
                },
            )
            .ok()?;
            let http = consul
                .start_front_end(FrontEndOptions {
                    ip: server_ip(n),
                    port: http_port,
                    tls: cert.map(|c| pki::server_config(c, &[b"http/1.1"])),
                })
                .ok()?;
            (grpc_port, http_port) = (grpc.addr().port(), http.addr().port());
            servers.push(Server {
                grpc,
                http: Some(http),
            });
        }
        Some(servers)
    }

    /// Every server's calls, for failure messages.
    fn logs(&self) -> String {
        let mut out = String::new();
        for (i, server) in self.servers.iter().enumerate() {
            let http = server
                .http
                .as_ref()
                .map_or("(stopped)\n".to_owned(), FrontEnd::request_log);
            out.push_str(&format!(
                "---- server {} gRPC ----\n{}---- server {} HTTP ----\n{http}",
                i + 1,
                server.grpc.request_log(),
                i + 1
            ));
        }
        out
    }

    /// The HTTP requests server `n` (1-based) answered.
    fn http_requests(&self, n: usize) -> Vec<String> {
        self.servers[n - 1]
            .http
            .as_ref()
            .map(|h| h.requests().iter().map(|r| r.to_string()).collect())
            .unwrap_or_default()
    }

    /// Whether server `n` (1-based) was asked for the gRPC call `path`.
    fn grpc_called(&self, n: usize, path: &str) -> bool {
        self.servers[n - 1]
            .grpc
            .requests()
            .iter()
            .any(|r| r.path == path)
    }
}

/// A dataplane task (Fargate, health-sync syncing `app`) against a [`Cluster`], with ACLs:
/// a fixed service token, or with `login` the aws-iam login against moto.
struct Task {
    cluster: Cluster,
    aws: Option<AwsWorld>,
    ecs: EcsMetadataEmulator,
    dir: tempfile::TempDir,
    node: String,
    task_id: String,
    /// `CONSUL_HTTP_TOKEN`, without a login.
    token: Option<String>,
}

impl Task {
    fn new(servers: u8, cert: Option<&Issued>, login: bool) -> Task {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        let aws = login.then(|| {
            let aws = AwsWorld::start("web");
            consul.configure_iam_auth(
                &aws,
                &IamAuthOptions {
                    server_id_header: Some(SERVER_ID.into()),
                    ..Default::default()
                },
            );
            aws
        });
        let token = (!login).then(|| consul.create_service_token("web").secret_id);
        let task = fargate_task(
            "web",
            &[
                "app",
                "consul-ecs-mesh-init",
                "consul-dataplane",
                "consul-ecs-health-sync",
            ],
        );
        let arn = task["TaskARN"].as_str().unwrap().to_owned();
        let task_id = arn.rsplit('/').next().unwrap().to_owned();
        let (prefix, rest) = arn.split_once(":task/").unwrap();
        let node = format!("{prefix}:cluster/{}", rest.rsplit_once('/').unwrap().0);
        // The cluster's node, as the controller creates it (a task's token may not).
        consul.register_synthetic_node(&node);
        Task {
            cluster: Cluster::start(consul, servers, cert),
            aws,
            ecs: EcsMetadataEmulator::start(task),
            dir: tempfile::tempdir().unwrap(),
            node,
            task_id,
            token,
        }
    }

    fn service_id(&self) -> String {
        format!("web-{}", self.task_id)
    }

    /// A v0.10 config reaching the cluster from `127.0.0.1` (TLS as the defaults have it:
    /// on), with `servers` merged over `consulServers`.
    fn config(&self, servers: Value) -> String {
        let mut consul_servers = json!({
            "hosts": "127.0.0.1",
            "grpc": {"port": self.cluster.grpc_port},
            "http": {"port": self.cluster.http_port}
        });
        for (k, v) in servers.as_object().unwrap() {
            consul_servers[k] = v.clone();
        }
        let mut config = json!({
            "bootstrapDir": self.dir.path(),
            "consulServers": consul_servers,
            "service": {"port": 9090},
            "healthSyncContainers": ["app"],
            "transparentProxy": {"enabled": false}
        });
        if let Some(aws) = &self.aws {
            config["consulLogin"] = json!({"enabled": true, "stsEndpoint": aws.endpoint(),
                                           "serverIdHeaderValue": SERVER_ID});
        }
        config.to_string()
    }

    /// The environment of the task's containers: the config, the metadata, the token or
    /// the task role's credentials, and `extra` (the CA variables).
    fn env(&self, config: &str, extra: &[(&str, String)]) -> Vec<(String, String)> {
        let mut env = vec![
            ("CONSUL_ECS_CONFIG_JSON".to_owned(), config.to_owned()),
            ("ECS_CONTAINER_METADATA_URI_V4".to_owned(), self.ecs.uri()),
            ("AWS_REGION".to_owned(), "us-east-1".to_owned()),
        ];
        match (&self.aws, &self.token) {
            (Some(aws), _) => env.extend(aws.credentials_env(aws.task_role())),
            (None, Some(token)) => env.push(("CONSUL_HTTP_TOKEN".to_owned(), token.clone())),
            (None, None) => {}
        }
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    }

    fn mesh_init(&self, config: &str, extra: &[(&str, String)]) -> Run {
        self.mesh_init_within("20s", config, extra)
    }

    /// mesh-init giving up reaching and registering after `timeout`.
    fn mesh_init_within(&self, timeout: &str, config: &str, extra: &[(&str, String)]) -> Run {
        let mut cmd = TestCommand::new(["mesh-init", "-register-timeout", timeout]);
        for (k, v) in self.env(config, extra) {
            cmd = cmd.env(&k, v);
        }
        cmd.run()
    }

    fn health_sync(&self, config: &str, extra: &[(&str, String)]) -> Background {
        let env = self.env(config, extra);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Background::start(
            &["health-sync", "-log-level", "DEBUG"],
            &env,
            tempfile::tempdir().unwrap(),
        )
    }

    fn expect(&self, run: &Run, code: i32) {
        assert!(
            run.code() == Some(code),
            "expected exit code {code}\n{run}\n{}",
            self.cluster.logs()
        );
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The IDs of the services the catalog holds on the task's node.
    fn registered(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .cluster
            .consul
            .catalog_services()
            .into_iter()
            .filter(|(_, s)| s["Node"].as_str().is_none_or(|n| n == self.node))
            .map(|(id, _)| id)
            .collect();
        ids.sort();
        ids
    }

    /// The status of each of the task's checks, by check ID.
    fn statuses(&self) -> Vec<(String, String)> {
        let mut all: Vec<(String, String)> = self
            .cluster
            .consul
            .catalog_checks()
            .into_iter()
            .map(|(id, c)| (id, c["Status"].as_str().unwrap_or_default().to_owned()))
            .collect();
        all.sort();
        all
    }

    fn all_checks(&self, status: &str) -> Vec<(String, String)> {
        let id = self.service_id();
        let mut all = vec![
            (format!("{id}-app"), status.to_owned()),
            (format!("{id}-consul-dataplane"), status.to_owned()),
            (
                format!("{id}-sidecar-proxy-consul-dataplane"),
                status.to_owned(),
            ),
        ];
        all.sort();
        all
    }

    fn login_tokens(&self) -> usize {
        self.cluster
            .consul
            .tokens()
            .into_iter()
            .filter(|t| !t.auth_method.is_empty())
            .count()
    }

    /// Every secret the task holds or was given: ACL tokens, the task role's keys.
    fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = self
            .cluster
            .consul
            .tokens()
            .into_iter()
            .map(|t| t.secret_id)
            .filter(|s| !s.is_empty() && s != "anonymous")
            .collect();
        if let Some(aws) = &self.aws {
            let role = aws.task_role();
            secrets.push(role.secret_access_key.clone());
            secrets.push(role.session_token.clone());
        }
        secrets.extend(self.token.clone());
        secrets
    }

    fn wait_for(&self, what: &str, hs: &Background, ok: impl Fn() -> bool) {
        let until = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}\n{}\n{}",
                hs.report(),
                self.cluster.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

/// The HTTP calls of a run that registered the task: two catalog registrations, all
/// answered, over the listener given.
fn assert_registered_through(t: &Task, server: usize) {
    let calls = t.cluster.http_requests(server);
    let registrations = calls
        .iter()
        .filter(|c| c.starts_with("PUT /v1/catalog/register -> 200"))
        .count();
    assert_eq!(registrations, 2, "{}", t.cluster.logs());
}

#[test]
fn mesh_init_over_tls_trusts_the_cas_of_the_pem_variables_and_hands_the_grpc_one_on() {
    let pki = Pki::new();
    let t = Task::new(1, Some(&pki.servers), false);
    // TLS is not mentioned: on by default, for gRPC and HTTPS alike.
    let config = t.config(json!({}));
    let run = t.mesh_init(
        &config,
        &[
            ("CONSUL_GRPC_CACERT_PEM", pki.ca_pem()),
            ("CONSUL_HTTPS_CACERT_PEM", pki.ca_pem()),
        ],
    );
    t.expect(&run, 0);
    let id = t.service_id();
    assert_eq!(
        t.registered(),
        [id.clone(), format!("{id}-sidecar-proxy")],
        "{run}"
    );
    assert_registered_through(&t, 1);
    assert!(
        t.cluster.grpc_called(1, WATCH_SERVERS),
        "{}",
        t.cluster.logs()
    );

    // The gRPC CA for consul-dataplane, read-only, and the document pointing at it.
    let ca_file = t.file("consul-grpc-ca-cert.pem");
    assert_eq!(fs::read_to_string(&ca_file).unwrap(), pki.ca_pem());
    assert_eq!(mode(&ca_file), 0o444);
    let document = read_json(&t.file("consul-dataplane.json"));
    assert_eq!(
        document["consul"]["tls"],
        json!({"disabled": false, "caCertsPath": ca_file.display().to_string()})
    );
    assert_eq!(document["consul"]["grpcPort"], t.cluster.grpc_port);
    assert_eq!(document["consul"]["serverWatchDisabled"], false);
}

#[test]
fn mesh_init_over_tls_with_ca_files_checks_the_tls_server_name() {
    let pki = Pki::new();
    // The certificate names the servers by DNS name only: dialled by IP address, they are
    // trusted only because tlsServerName says which name to check.
    let t = Task::new(1, Some(&pki.by_name), false);
    let ca = pki.ca.cert.display().to_string();
    let config = t.config(json!({
        "defaults": {"caCertFile": ca, "tlsServerName": SERVER_NAME}
    }));
    let run = t.mesh_init(&config, &[]);
    t.expect(&run, 0);
    assert_registered_through(&t, 1);
    assert!(
        !t.file("consul-grpc-ca-cert.pem").exists(),
        "no PEM variable: consul-dataplane reads the configured file"
    );
    let document = read_json(&t.file("consul-dataplane.json"));
    // consul-dataplane's JSON key for the name is `serverName`
    // (cmd/consul-dataplane/config.go, TLSFlags).
    assert_eq!(
        document["consul"]["tls"],
        json!({"disabled": false, "caCertsPath": ca, "serverName": SERVER_NAME})
    );

    // Per interface, over the defaults: a gRPC CA file and an HTTPS CA file.
    let t = Task::new(1, Some(&pki.by_name), false);
    let config = t.config(json!({
        "defaults": {"tlsServerName": SERVER_NAME},
        "grpc": {"port": t.cluster.grpc_port, "caCertFile": ca},
        "http": {"port": t.cluster.http_port, "caCertFile": ca}
    }));
    t.expect(&t.mesh_init(&config, &[]), 0);
    assert_registered_through(&t, 1);
}

/// A refused certificate: exit 2 (mesh-init's failed step), the address and the reason on stderr, no secret, nothing
/// registered, no login token left.
fn assert_refused(t: &Task, run: &Run, address: &str, reason: &str) {
    t.expect(run, 2);
    let stderr = run.stderr();
    assert!(stderr.contains(address), "the address {address}\n{run}");
    assert!(
        stderr.to_lowercase().contains(reason),
        "the reason {reason:?}\n{run}"
    );
    for secret in t.secrets() {
        assert!(
            !format!("{}{}", run.stdout(), stderr).contains(&secret),
            "a secret was printed\n{run}"
        );
    }
    assert_eq!(t.registered(), Vec::<String>::new(), "{run}");
    assert_eq!(t.login_tokens(), 0, "no login token left\n{run}");
    assert!(
        !t.file("consul-dataplane.json").exists(),
        "no file for consul-dataplane\n{run}"
    );
}

#[test]
fn a_grpc_certificate_from_another_ca_ends_mesh_init_before_the_login() {
    let pki = Pki::new();
    let t = Task::new(1, Some(&pki.servers), true);
    let config = t.config(json!({}));
    let started = Instant::now();
    let run = t.mesh_init(
        &config,
        &[
            ("CONSUL_GRPC_CACERT_PEM", pki.other_pem()),
            ("CONSUL_HTTPS_CACERT_PEM", pki.ca_pem()),
        ],
    );
    assert_refused(
        &t,
        &run,
        &format!("127.0.0.1:{}", t.cluster.grpc_port),
        "certificate",
    );
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "a refused certificate is final, not retried to the deadline: {:?}",
        started.elapsed()
    );
    assert!(!t.cluster.grpc_called(1, LOGIN), "{}", t.cluster.logs());
}

#[test]
fn an_https_certificate_from_another_ca_ends_mesh_init_and_its_token_is_logged_out() {
    let pki = Pki::new();
    let t = Task::new(1, Some(&pki.servers), true);
    let config = t.config(json!({}));
    let run = t.mesh_init(
        &config,
        &[
            ("CONSUL_GRPC_CACERT_PEM", pki.ca_pem()),
            ("CONSUL_HTTPS_CACERT_PEM", pki.other_pem()),
        ],
    );
    // The login over gRPC worked; the HTTPS API is not trusted.
    assert!(t.cluster.grpc_called(1, LOGIN), "{}", t.cluster.logs());
    assert_refused(
        &t,
        &run,
        &format!("127.0.0.1:{}", t.cluster.http_port),
        "certificate",
    );
    assert!(
        t.cluster.http_requests(1).is_empty(),
        "no request got past the handshake\n{}",
        t.cluster.logs()
    );
}

#[test]
fn a_certificate_for_another_name_ends_mesh_init() {
    let pki = Pki::new();
    let t = Task::new(1, Some(&pki.servers), false);
    let config = t.config(json!({"defaults": {"tlsServerName": "server.dc2.consul"}}));
    let run = t.mesh_init(
        &config,
        &[
            ("CONSUL_GRPC_CACERT_PEM", pki.ca_pem()),
            ("CONSUL_HTTPS_CACERT_PEM", pki.ca_pem()),
        ],
    );
    assert_refused(
        &t,
        &run,
        &format!("127.0.0.1:{}", t.cluster.grpc_port),
        "name",
    );
}

#[test]
fn tls_is_never_dropped_to_reach_a_plain_server() {
    let t = Task::new(1, None, false);
    // TLS on by default; the servers speak plain gRPC and HTTP.
    let run = t.mesh_init_within("3s", &t.config(json!({})), &[]);
    t.expect(&run, 2);
    assert_eq!(t.registered(), Vec::<String>::new(), "{run}");
    assert!(
        t.cluster.http_requests(1).is_empty(),
        "no plain request\n{}",
        t.cluster.logs()
    );
    let stderr = run.stderr();
    assert!(
        stderr.contains(&format!("127.0.0.1:{}", t.cluster.grpc_port)),
        "{run}"
    );
}

#[test]
fn health_sync_over_tls_follows_the_server_watch_to_another_server() {
    let pki = Pki::new();
    let t = Task::new(2, Some(&pki.servers), false);
    let config = t.config(json!({"defaults": {"tlsServerName": SERVER_NAME}}));
    let cas = [
        ("CONSUL_GRPC_CACERT_PEM", pki.ca_pem()),
        ("CONSUL_HTTPS_CACERT_PEM", pki.ca_pem()),
    ];
    t.expect(&t.mesh_init(&config, &cas), 0);

    let mut hs = t.health_sync(&config, &cas);
    t.ecs.set_container_health("app", "HEALTHY");
    t.ecs.set_container_health("consul-dataplane", "HEALTHY");
    t.wait_for("every check passing", &hs, || {
        t.statuses() == t.all_checks("passing")
    });
    t.wait_for("health-sync's watch on server 1", &hs, || {
        t.cluster.grpc_called(1, WATCH_SERVERS)
    });
    assert!(
        t.cluster.http_requests(2).is_empty(),
        "server 2 not used yet\n{}",
        t.cluster.logs()
    );

    // Server 1 leaves the ready set: the watch moves to server 2.
    t.cluster
        .list
        .set(vec![consul_grpc::server("server-2", server_ip(2))]);
    t.wait_for("health-sync's watch on server 2", &hs, || {
        t.cluster.grpc_called(2, WATCH_SERVERS)
    });
    let on_server_1 = t.cluster.http_requests(1).len();

    // The next write goes to server 2.
    t.ecs.set_container_health("app", "UNHEALTHY");
    let id = t.service_id();
    t.wait_for("the app check critical", &hs, || {
        t.statuses()
            .contains(&(format!("{id}-app"), "critical".to_owned()))
    });
    let on_server_2 = t.cluster.http_requests(2);
    assert!(
        on_server_2
            .iter()
            .any(|c| c.starts_with("PUT /v1/catalog/register -> 200")),
        "the check write went to server 2\n{}\n{}",
        hs.report(),
        t.cluster.logs()
    );

    // The shutdown's calls too.
    hs.signal(Signal::SIGTERM);
    t.wait_for("every check critical", &hs, || {
        t.statuses() == t.all_checks("critical")
    });
    t.ecs.stop_container("consul-dataplane");
    assert_eq!(hs.wait_exit(Duration::from_secs(30)), 0, "{}", hs.report());
    assert_eq!(t.registered(), Vec::<String>::new(), "{}", hs.report());
    let on_server_2 = t.cluster.http_requests(2);
    let deregistrations = on_server_2
        .iter()
        .filter(|c| c.starts_with("PUT /v1/catalog/deregister -> 200"))
        .count();
    assert_eq!(deregistrations, 2, "{}", t.cluster.logs());
    assert_eq!(
        t.cluster.http_requests(1).len(),
        on_server_1,
        "nothing more went to server 1 after the switch\n{}",
        t.cluster.logs()
    );
    assert!(
        hs.read("stderr.log")
            .contains("using another Consul server"),
        "{}",
        hs.report()
    );
}

#[test]
fn mesh_init_follows_the_server_watch_away_from_a_server_whose_http_api_is_gone() {
    let pki = Pki::new();
    let mut t = Task::new(2, Some(&pki.servers), false);
    // The address in `hosts` answers gRPC but its HTTP API is gone, and the ready set is
    // server 2 alone (server 1 is being replaced): only following the watch registers.
    t.cluster.servers[0].http = None;
    t.cluster
        .list
        .set(vec![consul_grpc::server("server-2", server_ip(2))]);
    let config = t.config(json!({"defaults": {"tlsServerName": SERVER_NAME}}));
    let run = t.mesh_init(
        &config,
        &[
            ("CONSUL_GRPC_CACERT_PEM", pki.ca_pem()),
            ("CONSUL_HTTPS_CACERT_PEM", pki.ca_pem()),
        ],
    );
    t.expect(&run, 0);
    assert_registered_through(&t, 2);
    assert!(
        t.cluster.grpc_called(2, WATCH_SERVERS),
        "{}",
        t.cluster.logs()
    );
}

#[test]
fn skip_server_watch_opens_no_watch_and_still_works() {
    let pki = Pki::new();
    let t = Task::new(1, Some(&pki.servers), false);
    let config = t.config(json!({"skipServerWatch": true}));
    let cas = [
        ("CONSUL_GRPC_CACERT_PEM", pki.ca_pem()),
        ("CONSUL_HTTPS_CACERT_PEM", pki.ca_pem()),
    ];
    t.expect(&t.mesh_init(&config, &cas), 0);
    assert_registered_through(&t, 1);
    let document = read_json(&t.file("consul-dataplane.json"));
    assert_eq!(document["consul"]["serverWatchDisabled"], true);

    let mut hs = t.health_sync(&config, &cas);
    t.ecs.set_container_health("app", "HEALTHY");
    t.ecs.set_container_health("consul-dataplane", "HEALTHY");
    t.wait_for("every check passing", &hs, || {
        t.statuses() == t.all_checks("passing")
    });
    // Long enough for a watch to have been opened (the other tests see it at once).
    let polls = t.ecs.request_count();
    t.wait_for("three more metadata polls", &hs, || {
        t.ecs.request_count() >= polls + 3
    });
    hs.signal(Signal::SIGTERM);
    t.ecs.stop_container("consul-dataplane");
    assert_eq!(hs.wait_exit(Duration::from_secs(30)), 0, "{}", hs.report());
    assert!(
        !t.cluster.grpc_called(1, WATCH_SERVERS),
        "skipServerWatch: no WatchServers call\n{}",
        t.cluster.logs()
    );
    assert_eq!(t.registered(), Vec::<String>::new(), "{}", hs.report());
}
