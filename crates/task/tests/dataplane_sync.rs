//! health-sync in the dataplane layout against testkit's Consul emulator (the servers'
//! catalog, as Consul 1.15 answers) and its ECS task metadata emulator: the checks follow ECS
//! health with one register call per change, and the shutdown runs every step in order.
//!
//! The emulators are real HTTP servers, so the sync runs on the real clock with a 20 ms poll;
//! every wait is for something observable (a check's status in Consul, a request the
//! emulator recorded), bounded generously.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use consul::{Client, ClientConfig, QueryOptions, Secret, TokenSource};
use serde_json::json;
use task::layout::dataplane_sync::{sync_checks, DataplanePeers, DataplaneTask, Logout};
use testkit::consul::{ConsulEmulator, EmulatorOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};

const LIMIT: Duration = Duration::from_secs(10);

struct World {
    consul: ConsulEmulator,
    ecs: EcsMetadataEmulator,
    registrations: dataplane::CatalogRegistrations,
    containers: Vec<String>,
}

impl World {
    fn new() -> World {
        let consul = ConsulEmulator::start(EmulatorOptions::default());
        let ecs = EcsMetadataEmulator::start(fargate_task(
            "web",
            &[
                "app",
                "consul-ecs-mesh-init",
                "consul-dataplane",
                "consul-ecs-health-sync",
            ],
        ));
        let config: config::dataplane::Config = serde_json::from_value(json!({
            "bootstrapDir": "/consul",
            "consulServers": {"hosts": "127.0.0.1"},
            "service": {"port": 8080},
            "healthSyncContainers": ["app"],
        }))
        .unwrap();
        let task: ecs::TaskMetadata = serde_json::from_value(ecs.task()).unwrap();
        let registrations = dataplane::build_registrations(&config, &task, None).unwrap();
        World {
            consul,
            ecs,
            registrations,
            containers: config.health_sync_containers.clone(),
        }
    }

    fn client(&self) -> Client {
        let config = ClientConfig::default()
            .with_address(&self.consul.http_addr())
            .unwrap()
            .with_token(TokenSource::Value(Secret::new(
                self.consul.management_token(),
            )))
            .with_timeout(Duration::from_secs(5));
        Client::new(config).unwrap()
    }

    /// What mesh-init did: the service, then the proxy, in the catalog.
    async fn register(&self) {
        for registration in self.registrations.in_order() {
            self.client()
                .catalog_register(&registration, &QueryOptions::default())
                .await
                .unwrap();
        }
    }

    fn peers(&self, logout: Option<Logout>) -> DataplanePeers {
        let client = self.client();
        DataplanePeers {
            metadata: ecs::MetadataClient::new(self.ecs.uri()).unwrap(),
            server: Box::new(move || client.clone()),
            logout,
        }
    }

    fn task(&self) -> DataplaneTask<'_> {
        DataplaneTask {
            registrations: &self.registrations,
            health_sync_containers: &self.containers,
        }
    }

    fn service_id(&self) -> String {
        self.registrations.main_service().id.clone()
    }

    /// Check ID → status, of the service and its proxy, as Consul holds them.
    async fn statuses(&self) -> Vec<(String, String)> {
        let mut all = Vec::new();
        for entry in self.registrations.services() {
            let opts =
                QueryOptions::default().with_filter(format!("ServiceID == `{}`", entry.service.id));
            for check in self
                .client()
                .health_checks(&entry.service.service, &opts)
                .await
                .unwrap()
            {
                all.push((check.check_id, check.status));
            }
        }
        all.sort();
        all
    }

    async fn wait_for_statuses(&self, expected: &[(&str, &str)]) {
        let service = self.service_id();
        let mut expected: Vec<(String, String)> = expected
            .iter()
            .map(|(suffix, status)| (format!("{service}{suffix}"), status.to_string()))
            .collect();
        expected.sort();
        let until = tokio::time::Instant::now() + LIMIT;
        loop {
            let now = self.statuses().await;
            if now == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < until,
                "checks are {now:?}, expected {expected:?}\n{}",
                self.consul.request_log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn register_calls(&self) -> usize {
        self.consul
            .requests()
            .iter()
            .filter(|r| r.path == "/v1/catalog/register")
            .count()
    }

    async fn node_services(&self) -> Vec<String> {
        self.client()
            .catalog_node_services(self.registrations.node(), &QueryOptions::default())
            .await
            .unwrap()
            .services
            .into_iter()
            .map(|s| s.id)
            .collect()
    }
}

fn settings() -> mesh_task::SyncSettings {
    mesh_task::SyncSettings {
        poll_interval: Duration::from_millis(20),
        reassert_interval: Duration::from_secs(30),
        shutdown_timeout: Duration::from_secs(5),
    }
}

/// A stop signal the test fires, and the logout as a flag.
fn stop_channel() -> (
    tokio::sync::oneshot::Sender<()>,
    impl std::future::Future<Output = &'static str>,
) {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    (tx, async move {
        let _ = rx.await;
        "SIGTERM"
    })
}

fn logout_flag(result: Result<(), String>) -> (Rc<Cell<bool>>, Logout) {
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let logout: Logout = Box::pin(async move {
        flag.set(true);
        result
    });
    (ran, logout)
}

const APP: &str = "-app";
const DATAPLANE: &str = "-consul-dataplane";
const PROXY_DATAPLANE: &str = "-sidecar-proxy-consul-dataplane";

#[tokio::test(flavor = "current_thread")]
async fn checks_follow_ecs_health_and_the_task_leaves_the_catalog_after_the_dataplane() {
    let world = World::new();
    world.register().await;
    world.ecs.set_container_health("app", "HEALTHY");
    world
        .ecs
        .set_container_health("consul-dataplane", "HEALTHY");
    let (ran_logout, logout) = logout_flag(Ok(()));
    let (stop_tx, stop) = stop_channel();
    let settings = settings();
    let sync = sync_checks(world.task(), world.peers(Some(logout)), &settings, stop);

    let driver = async {
        world
            .wait_for_statuses(&[
                (APP, "passing"),
                (DATAPLANE, "passing"),
                (PROXY_DATAPLANE, "passing"),
            ])
            .await;
        // Three checks changed: one register call wrote them (the two of mesh-init before).
        assert_eq!(world.register_calls(), 3, "{}", world.consul.request_log());

        // The app turns unhealthy: its check and, through readiness, both dataplane checks.
        world.ecs.set_container_health("app", "UNHEALTHY");
        world
            .wait_for_statuses(&[
                (APP, "critical"),
                (DATAPLANE, "critical"),
                (PROXY_DATAPLANE, "critical"),
            ])
            .await;
        assert_eq!(world.register_calls(), 4, "{}", world.consul.request_log());

        // The dataplane alone unhealthy: the app's check passes, the dataplane's do not.
        world.ecs.set_container_health("app", "HEALTHY");
        world
            .ecs
            .set_container_health("consul-dataplane", "UNHEALTHY");
        world
            .wait_for_statuses(&[
                (APP, "passing"),
                (DATAPLANE, "critical"),
                (PROXY_DATAPLANE, "critical"),
            ])
            .await;
        world
            .ecs
            .set_container_health("consul-dataplane", "HEALTHY");
        world
            .wait_for_statuses(&[
                (APP, "passing"),
                (DATAPLANE, "passing"),
                (PROXY_DATAPLANE, "passing"),
            ])
            .await;
        let writes_before_stop = world.register_calls();

        stop_tx.send(()).unwrap();
        world
            .wait_for_statuses(&[
                (APP, "critical"),
                (DATAPLANE, "critical"),
                (PROXY_DATAPLANE, "critical"),
            ])
            .await;
        assert_eq!(
            world.register_calls(),
            writes_before_stop + 1,
            "one write at SIGTERM"
        );
        // No more syncing, and still in the catalog while consul-dataplane runs.
        let polls = world.ecs.request_count();
        while world.ecs.request_count() < polls + 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(world.node_services().await.len(), 2);
        assert_eq!(world.register_calls(), writes_before_stop + 1);
        assert!(!ran_logout.get());
        world.ecs.stop_container("consul-dataplane");
    };
    let (report, ()) = tokio::time::timeout(LIMIT, async { tokio::join!(sync, driver) })
        .await
        .expect("health-sync ends once consul-dataplane stopped");

    assert_eq!(report.failures, Vec::<String>::new());
    assert!(
        world.node_services().await.is_empty(),
        "service and proxy deregistered"
    );
    assert!(ran_logout.get(), "logged out");
    // One deregistration each for the service and the proxy (no retries were needed).
    let deregistrations: Vec<_> = world
        .consul
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/catalog/deregister")
        .collect();
    assert_eq!(deregistrations.len(), 2, "{}", world.consul.request_log());
}

/// The checks cannot be set critical (Consul refuses the write): the deregistrations and
/// the logout still run; each failed step is a line of the report. A consul-dataplane that
/// is no longer listed counts as stopped.
#[tokio::test(flavor = "current_thread")]
async fn every_shutdown_step_runs_when_one_fails() {
    let world = World::new();
    world.register().await;
    let (ran_logout, logout) = logout_flag(Err("token not found".into()));
    let (stop_tx, stop) = stop_channel();
    let settings = settings();
    let sync = sync_checks(world.task(), world.peers(Some(logout)), &settings, stop);
    let driver = async {
        world
            .wait_for_statuses(&[
                (APP, "critical"),
                (DATAPLANE, "critical"),
                (PROXY_DATAPLANE, "critical"),
            ])
            .await;
        // Wait for the first poll's write (app UNKNOWN → critical, new output).
        while world.register_calls() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        world.ecs.remove_container("consul-dataplane");
        world.consul.faults().fail_next(1, 403);
        stop_tx.send(()).unwrap();
    };
    let (report, ()) = tokio::time::timeout(LIMIT, async { tokio::join!(sync, driver) })
        .await
        .expect("health-sync ends");

    assert_eq!(report.failures.len(), 2, "{:?}", report.failures);
    assert!(
        report.failures[0].starts_with("set the checks critical: "),
        "{:?}",
        report.failures
    );
    assert_eq!(report.failures[1], "log out: token not found");
    assert!(
        world.node_services().await.is_empty(),
        "deregistered anyway"
    );
    assert!(ran_logout.get());
}
