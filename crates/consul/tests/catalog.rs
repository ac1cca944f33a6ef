//! The catalog, health and service-defaults calls against testkit's Consul emulator (which
//! answers as Consul 1.15's servers do, docs/protocols.md §9): the dataplane layout's
//! register → read → update → deregister cycle, the wire names of the bodies, ACL denials
//! and their classification, and Enterprise tenancy parameters.

use consul::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use testkit::consul::{ConsulEmulator, EmulatorOptions};

const NODE: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/test";
const SERVICE_ID: &str = "web-0f3bca58e0f4486a95b04c1bd1d4be55";

fn emulator(acls: bool, enterprise: bool) -> ConsulEmulator {
    ConsulEmulator::start(EmulatorOptions {
        acls_enabled: acls,
        enterprise,
        ..EmulatorOptions::default()
    })
}

fn client(consul: &ConsulEmulator, token: Option<&str>) -> Client {
    let token = match token {
        Some(t) => TokenSource::Value(Secret::new(t)),
        None => TokenSource::None,
    };
    let config = ClientConfig::default()
        .with_address(&consul.http_addr())
        .expect("emulator address")
        .with_token(token)
        .with_timeout(Duration::from_secs(5));
    Client::new(config).expect("client")
}

fn check(check_id: &str, name: &str) -> HealthCheck {
    HealthCheck {
        check_id: check_id.into(),
        name: name.into(),
        service_id: SERVICE_ID.into(),
        status: "critical".into(),
        output: "Service web is not ready".into(),
        r#type: "consul-ecs-health-check".into(),
        ..Default::default()
    }
}

/// What mesh-init writes for the service in the dataplane layout.
fn service_registration() -> CatalogRegistration {
    CatalogRegistration {
        node: NODE.into(),
        address: "127.0.0.1".into(),
        node_meta: BTreeMap::from([("synthetic-node".into(), "true".into())]),
        skip_node_update: true,
        service: Some(CatalogService {
            id: SERVICE_ID.into(),
            service: "web".into(),
            port: 9090,
            address: "10.0.1.23".into(),
            meta: BTreeMap::from([
                ("task-id".into(), "0f3bca58e0f4486a95b04c1bd1d4be55".into()),
                ("source".into(), "consul-ecs".into()),
            ]),
            locality: Some(Locality {
                region: "us-east-1".into(),
                zone: "us-east-1a".into(),
            }),
            ..Default::default()
        }),
        checks: vec![
            check(
                &format!("{SERVICE_ID}-app"),
                "Consul ECS health check synced",
            ),
            check(
                &format!("{SERVICE_ID}-consul-dataplane"),
                "Consul dataplane readiness",
            ),
        ],
        ..Default::default()
    }
}

#[test]
fn bodies_use_consuls_field_names() {
    let body = serde_json::to_value(service_registration()).expect("encode");
    let keys: Vec<&str> = body
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "Node",
            "Address",
            "NodeMeta",
            "Service",
            "Checks",
            "SkipNodeUpdate"
        ]
    );
    assert_eq!(body["Service"]["ID"], SERVICE_ID);
    assert_eq!(body["Service"]["Service"], "web");
    assert_eq!(
        body["Service"]["Locality"],
        json!({"Region": "us-east-1", "Zone": "us-east-1a"})
    );
    assert_eq!(body["Checks"][0]["CheckID"], format!("{SERVICE_ID}-app"));
    assert_eq!(body["Checks"][0]["ServiceID"], SERVICE_ID);
    assert_eq!(body["Checks"][0]["Type"], "consul-ecs-health-check");
    let dereg = CatalogDeregistration {
        node: NODE.into(),
        service_id: SERVICE_ID.into(),
        namespace: "team".into(),
        partition: "part".into(),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(dereg).expect("encode"),
        json!({"Node": NODE, "ServiceID": SERVICE_ID, "Namespace": "team", "Partition": "part"})
    );
    let mut entry = ServiceDefaultsEntry::new("web");
    entry.fields.insert("Protocol".into(), json!("http"));
    assert_eq!(
        serde_json::to_value(entry).expect("encode"),
        json!({"Kind": "service-defaults", "Name": "web", "Protocol": "http"})
    );
}

#[tokio::test]
async fn register_read_update_and_deregister_round_trip() {
    let consul = emulator(false, false);
    let c = client(&consul, None);
    let opts = QueryOptions::default();
    c.catalog_register(&service_registration(), &opts)
        .await
        .expect("register");

    let list = c.catalog_node_services(NODE, &opts).await.expect("read");
    // Read as it arrives: the same node, and each service's ID, name, meta and tenancy.
    let mut streamed = Vec::new();
    let streamed_node = c
        .catalog_node_services_each(NODE, &opts, |s| streamed.push(s))
        .await
        .expect("read as it arrives");
    assert_eq!(streamed_node, list.node);
    assert_eq!(
        streamed,
        list.services
            .iter()
            .map(|s| CatalogServiceListEntry {
                id: s.id.clone(),
                service: s.service.clone(),
                meta: s.meta.clone(),
                namespace: s.namespace.clone(),
                partition: s.partition.clone(),
            })
            .collect::<Vec<_>>()
    );
    let node = list.node.expect("node exists");
    assert_eq!(node.node, NODE);
    assert_eq!(
        node.meta.get("synthetic-node").map(String::as_str),
        Some("true")
    );
    assert_eq!(list.services.len(), 1);
    let web = &list.services[0];
    assert_eq!(
        (web.id.as_str(), web.service.as_str(), web.port),
        (SERVICE_ID, "web", 9090)
    );
    assert_eq!(
        web.meta.get("source").map(String::as_str),
        Some("consul-ecs")
    );
    assert!(web.create_index > 0);

    let filtered = QueryOptions::default().with_filter(format!("ServiceID == \"{SERVICE_ID}\""));
    let checks = c.health_checks("web", &filtered).await.expect("checks");
    assert_eq!(checks.len(), 2);
    assert!(checks
        .iter()
        .all(|c| c.status == "critical" && c.node == NODE));
    let none = QueryOptions::default().with_filter("ServiceID == \"other\"");
    assert!(c
        .health_checks("web", &none)
        .await
        .expect("checks")
        .is_empty());

    // health-sync's write: only the changed check, in one register call.
    let mut update = service_registration();
    update.checks = vec![HealthCheck {
        status: "passing".into(),
        output: format!("ECS health status is \"HEALTHY\" for container \"{SERVICE_ID}-app\""),
        ..check(
            &format!("{SERVICE_ID}-app"),
            "Consul ECS health check synced",
        )
    }];
    c.catalog_register(&update, &opts).await.expect("update");
    let checks = c.health_checks("web", &filtered).await.expect("checks");
    let app = checks
        .iter()
        .find(|c| c.check_id.ends_with("-app"))
        .expect("app check");
    assert_eq!(app.status, "passing");
    assert_eq!(app.service_name, "web");

    c.catalog_deregister(
        &CatalogDeregistration {
            node: NODE.into(),
            service_id: SERVICE_ID.into(),
            ..Default::default()
        },
        &opts,
    )
    .await
    .expect("deregister");
    assert!(c
        .health_checks("web", &opts)
        .await
        .expect("checks")
        .is_empty());
    let list = c.catalog_node_services(NODE, &opts).await.expect("read");
    assert!(list.services.is_empty());
    let missing = c.catalog_node_services("nope", &opts).await.expect("read");
    assert_eq!(missing, CatalogNodeServiceList::default());
    let mut streamed = 0;
    let missing = c
        .catalog_node_services_each("nope", &opts, |_| streamed += 1)
        .await
        .expect("read as it arrives");
    assert_eq!((missing, streamed), (None, 0));
}

#[tokio::test]
async fn service_defaults_read_modify_write_keeps_other_fields() {
    let consul = emulator(false, false);
    let c = client(&consul, None);
    let opts = QueryOptions::default();
    assert_eq!(c.service_defaults("web", &opts).await.expect("read"), None);
    let mut entry = ServiceDefaultsEntry::new("web");
    entry.fields.insert("Protocol".into(), json!("http"));
    assert!(c.service_defaults_set(&entry, &opts).await.expect("write"));

    let mut read = c
        .service_defaults("web", &opts)
        .await
        .expect("read")
        .expect("entry exists");
    assert_eq!(read.kind, SERVICE_DEFAULTS);
    assert_eq!(read.fields.get("Protocol"), Some(&json!("http")));
    read.fields.insert(
        "UpstreamConfig".into(),
        json!({"Defaults": {"PassiveHealthCheck": {"Interval": 10_000_000_000u64, "MaxFailures": 5}}}),
    );
    assert!(c.service_defaults_set(&read, &opts).await.expect("write"));
    let again = c
        .service_defaults("web", &opts)
        .await
        .expect("read")
        .expect("entry exists");
    assert_eq!(again.fields.get("Protocol"), Some(&json!("http")));
    assert_eq!(
        again.fields["UpstreamConfig"]["Defaults"]["PassiveHealthCheck"]["MaxFailures"],
        json!(5)
    );
}

#[tokio::test]
async fn acl_denials_and_bad_input_keep_consuls_status_and_text() {
    let consul = emulator(true, false);
    let web = consul.create_service_token("web");
    let c = client(&consul, Some(&web.secret_id));
    let opts = QueryOptions::default();

    // The node does not exist yet: creating it needs node:write, which a service
    // identity lacks. Final, not retryable.
    let err = c
        .catalog_register(&service_registration(), &opts)
        .await
        .expect_err("node:write needed");
    assert!(err.is_permission_denied(), "{err}");
    assert!(!err.is_retryable(), "{err}");
    assert!(err.to_string().contains("'node:write'"), "{err}");
    assert!(
        !err.to_string().contains(&web.secret_id),
        "the token never appears in errors: {err}"
    );

    let management = client(&consul, Some(&consul.management_token()));
    let node_only = CatalogRegistration {
        node: NODE.into(),
        address: "127.0.0.1".into(),
        ..Default::default()
    };
    management
        .catalog_register(&node_only, &opts)
        .await
        .expect("node");
    c.catalog_register(&service_registration(), &opts)
        .await
        .expect("service registers onto the existing node");

    let no_token = client(&consul, None);
    let err = no_token
        .service_defaults("web", &opts)
        .await
        .expect_err("anonymous may not read");
    assert!(err.is_permission_denied(), "{err}");
    let err = c
        .service_defaults_set(&ServiceDefaultsEntry::new("api"), &opts)
        .await
        .expect_err("web may not write api's defaults");
    assert_eq!(err.http_status(), Some(403), "{err}");

    // Consul answers invalid registrations with 500 and its text.
    let err = management
        .catalog_register(&CatalogRegistration::default(), &opts)
        .await
        .expect_err("no node");
    assert_eq!(
        (err.http_status(), err.body()),
        (Some(500), Some("Must provide node"))
    );
    let bad_filter = QueryOptions::default().with_filter("ServiceID ==");
    let err = c
        .health_checks("web", &bad_filter)
        .await
        .expect_err("bad filter");
    assert_eq!(err.http_status(), Some(400), "{err}");
}

#[tokio::test]
async fn tenancy_goes_in_the_query_and_the_bodies() {
    let consul = emulator(false, true);
    let c = client(&consul, None);
    let mut registration = service_registration();
    registration.partition = "default".into();
    if let Some(service) = registration.service.as_mut() {
        service.namespace = "team".into();
    }
    for check in &mut registration.checks {
        check.namespace = "team".into();
    }
    c.catalog_register(&registration, &QueryOptions::default())
        .await
        .expect("register");
    let team = QueryOptions::default()
        .with_namespace("team")
        .with_partition("default");
    let list = c.catalog_node_services(NODE, &team).await.expect("read");
    assert_eq!(list.services[0].namespace, "team");
    assert_eq!(list.node.expect("node").partition, "default");
    let checks = c.health_checks("web", &team).await.expect("checks");
    assert_eq!(checks.len(), 2);
    assert!(checks.iter().all(|c| c.namespace == "team"));
    let elsewhere = c
        .health_checks("web", &QueryOptions::default().with_namespace("default"))
        .await
        .expect("checks");
    assert!(elsewhere.is_empty());
    let last = consul
        .requests()
        .into_iter()
        .rev()
        .nth(1)
        .expect("requests");
    assert_eq!(last.path, "/v1/health/checks/web");
    assert!(last.query.contains("ns=team") && last.query.contains("partition=default"));

    // The same body on CE is refused by name.
    let ce = emulator(false, false);
    let err = client(&ce, None)
        .catalog_register(&registration, &QueryOptions::default())
        .await
        .expect_err("CE has no partitions");
    assert_eq!(err.http_status(), Some(400), "{err}");
    let body: Value = json!(err.body());
    assert!(
        body.as_str().is_some_and(|b| b.contains("Partition")),
        "{err}"
    );
}
