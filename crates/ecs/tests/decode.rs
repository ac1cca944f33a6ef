//! Decoding the docs/protocols.md §1.3 / §1.4 examples and the values derived from them.

use ecs::{EcsError, MeshLayout, TaskMetadata, DEFAULT_NODE_IP, NON_APPLICATION_CONTAINERS};

fn load(name: &str) -> TaskMetadata {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("decode {}: {e}", path.display()))
}

#[test]
fn fargate_example_decodes_with_every_field_we_read() {
    let task = load("fargate_task.json");
    assert_eq!(
        task.cluster,
        "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster"
    );
    assert_eq!(
        task.task_arn,
        "arn:aws:ecs:us-east-1:123456789012:task/my-cluster/0f3bca58e0f4486a95b04c1bd1d4be55"
    );
    assert_eq!(task.family, "web");
    assert_eq!(task.revision, "7");
    assert_eq!(task.desired_status, "STOPPED");
    assert_eq!(task.known_status, "RUNNING");
    assert_eq!(task.availability_zone.as_deref(), Some("us-east-1a"));
    assert_eq!(task.launch_type.as_deref(), Some("FARGATE"));
    let names: Vec<&str> = task.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "web",
            "sidecar-proxy",
            "consul-ecs-mesh-init",
            "consul-client",
            "consul-ecs-health-sync"
        ]
    );

    let web = task.container("web").unwrap();
    assert_eq!(web.docker_id, "0f3bca58e0f4486a95b04c1bd1d4be55-2531612879");
    assert_eq!(web.container_type.as_deref(), Some("NORMAL"));
    assert_eq!(web.exit_code, Some(0));
    assert!(web.is_stopped());
    assert!(web.is_application());
    assert_eq!(web.health_status(), Some("HEALTHY"));
    assert!(web.is_healthy());
    let health = web.health.as_ref().unwrap();
    assert_eq!(
        health.status_since.as_deref(),
        Some("2024-02-16T12:00:51.3Z")
    );
    assert_eq!(health.exit_code, None);
    assert_eq!(web.networks[0].network_mode, "awsvpc");
    assert_eq!(web.networks[0].ipv4_addresses, ["10.0.1.23"]);
    assert_eq!(
        web.networks[0].private_dns_name.as_deref(),
        Some("ip-10-0-1-23.ec2.internal")
    );

    let proxy = task.container("sidecar-proxy").unwrap();
    assert!(
        !proxy.is_stopped(),
        "desired STOPPED but known RUNNING is not stopped"
    );
    assert!(!proxy.is_application());
    let client = task.container("consul-client").unwrap();
    assert_eq!(client.docker_id, "", "a missing DockerId decodes as empty");
    assert_eq!(client.health_status(), None);
    assert!(!client.is_healthy());
    assert_eq!(client.exit_code, None);
}

#[test]
fn fargate_derived_values() {
    let task = load("fargate_task.json");
    assert_eq!(task.task_id().unwrap(), "0f3bca58e0f4486a95b04c1bd1d4be55");
    assert_eq!(task.region().unwrap(), "us-east-1");
    assert_eq!(task.account_id().unwrap(), "123456789012");
    assert_eq!(
        task.cluster_arn().unwrap(),
        "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster"
    );
    assert_eq!(
        task.cluster(),
        "arn:aws:ecs:us-east-1:123456789012:cluster/my-cluster"
    );
    assert_eq!(task.family(), "web");
    assert_eq!(task.node_ip(), "10.0.1.23");
    let apps: Vec<&str> = task
        .application_containers()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(apps, ["web"]);
    assert!(
        task.applications_stopped(),
        "the only app (web) has stopped"
    );
}

#[test]
fn ec2_example_decodes_and_derives() {
    let task = load("ec2_task.json");
    assert_eq!(
        task.cluster(),
        "my-cluster",
        "raw Cluster is the short name on EC2"
    );
    assert_eq!(
        task.cluster_arn().unwrap(),
        "arn:aws:ecs:us-west-2:111122223333:cluster/my-cluster"
    );
    assert_eq!(task.task_id().unwrap(), "158d1c8083dd49d6b527399fd6414f5c");
    assert_eq!(task.region().unwrap(), "us-west-2");
    assert_eq!(task.account_id().unwrap(), "111122223333");
    assert_eq!(task.revision, "26");
    assert_eq!(task.launch_type.as_deref(), Some("EC2"));
    assert_eq!(task.node_ip(), "10.0.2.61");

    let pause = &task.containers[0];
    assert_eq!(pause.name, "~internal~ecs~pause");
    assert_eq!(pause.container_type.as_deref(), Some("CNI_PAUSE"));
    assert!(
        !pause.is_application(),
        "the pause container must not keep Envoy alive"
    );

    let web = task.container("web").unwrap();
    assert!(web.is_application());
    assert!(!web.is_stopped());
    assert_eq!(web.health_status(), Some("UNHEALTHY"));
    let health = web.health.as_ref().unwrap();
    assert_eq!(health.exit_code, Some(1));
    assert_eq!(
        health.output.as_deref(),
        Some("curl: (7) Failed to connect")
    );
    assert!(!task.applications_stopped());
}

#[test]
fn decoding_tolerates_unknown_missing_and_null_fields() {
    let task: TaskMetadata = serde_json::from_value(serde_json::json!({
        "TaskARN": "arn:aws:ecs:eu-west-1:000000000000:task/c/abc",
        "Revision": 3,
        "Containers": [
            {"Name": "app", "Networks": null, "Health": {"status": "UNKNOWN", "brandNew": 1}},
            {"Name": "old-agent", "DesiredStatus": null, "SomethingNew": {"x": [1, 2]}}
        ],
        "ClockDrift": {"ClockErrorBound": 0.5},
        "FaultInjectionEnabled": false
    }))
    .unwrap();
    assert_eq!(task.revision, "3");
    assert_eq!(task.cluster, "");
    assert_eq!(task.family, "");
    assert_eq!(task.availability_zone, None);
    assert!(task.containers[0].networks.is_empty());
    assert_eq!(task.containers[0].health_status(), Some("UNKNOWN"));
    assert_eq!(task.containers[1].desired_status, "");
    assert_eq!(
        task.containers[1].container_type, None,
        "a missing Type stays None (and counts as NORMAL)"
    );
    assert!(task.containers[1].is_application());
    assert_eq!(task.node_ip(), DEFAULT_NODE_IP, "no networks → 127.0.0.1");
    // The old `task/<id>` ARN form has no cluster part: fall back to the short name...
    assert_eq!(
        task.cluster_arn().unwrap(),
        "arn:aws:ecs:eu-west-1:000000000000:cluster/c"
    );

    let empty: TaskMetadata = serde_json::from_str(r#"{"Containers": null}"#).unwrap();
    assert!(empty.containers.is_empty());
    assert_eq!(empty.node_ip(), "127.0.0.1");
    assert!(
        empty.applications_stopped(),
        "no applications: vacuously stopped"
    );
}

#[test]
fn old_task_arn_form_uses_the_short_cluster_name() {
    let task: TaskMetadata = serde_json::from_value(serde_json::json!({
        "Cluster": "legacy",
        "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/0f3bca58e0f4486a95b04c1bd1d4be55"
    }))
    .unwrap();
    assert_eq!(task.task_id().unwrap(), "0f3bca58e0f4486a95b04c1bd1d4be55");
    assert_eq!(
        task.cluster_arn().unwrap(),
        "arn:aws:ecs:us-east-1:123456789012:cluster/legacy"
    );

    let no_name = TaskMetadata {
        cluster: String::new(),
        ..task
    };
    let err = no_name.cluster_arn().unwrap_err();
    assert!(err.to_string().contains("no cluster name"), "{err}");
}

fn with_arn(arn: &str) -> TaskMetadata {
    TaskMetadata {
        task_arn: arn.to_string(),
        cluster: "short".to_string(),
        ..TaskMetadata::default()
    }
}

#[test]
fn malformed_arns_give_typed_errors_naming_the_arn() {
    for arn in [
        "",
        "not-an-arn",
        "arn:aws:ecs:us-east-1",
        "urn:aws:ecs:r:a:task/c/id",
    ] {
        let task = with_arn(arn);
        for err in [
            task.task_id().unwrap_err(),
            task.region().unwrap_err(),
            task.account_id().unwrap_err(),
            task.cluster_arn().unwrap_err(),
        ] {
            assert!(
                matches!(err, EcsError::MalformedArn { .. }),
                "{arn:?}: {err:?}"
            );
            assert!(
                err.to_string().contains(&format!("{arn:?}")),
                "error must quote the ARN: {err}"
            );
        }
    }
    let region = with_arn("not-an-arn").region().unwrap_err();
    assert!(
        region
            .to_string()
            .starts_with("unable to determine AWS region from Task ARN \"not-an-arn\""),
        "{region}"
    );

    let empty_fields = with_arn("arn:aws:ecs:::task/c/");
    assert!(empty_fields.region().is_err());
    assert!(empty_fields.account_id().is_err());
    assert!(empty_fields
        .task_id()
        .unwrap_err()
        .to_string()
        .contains("empty task ID"));

    let not_a_task = with_arn("arn:aws:ecs:us-east-1:123456789012:service/c/web");
    assert_eq!(
        not_a_task.region().unwrap(),
        "us-east-1",
        "region does not care about the resource"
    );
    assert!(not_a_task
        .task_id()
        .unwrap_err()
        .to_string()
        .contains("task/"));
}

#[test]
fn application_rules() {
    let mut task = load("fargate_task.json");
    for name in NON_APPLICATION_CONTAINERS {
        assert!(!task.container(name).unwrap().is_application(), "{name}");
    }
    // A container with a non-NORMAL type is not an application; an untyped one is.
    task.containers[0].container_type = Some("CNI_PAUSE".into());
    assert!(!task.containers[0].is_application());
    task.containers[0].container_type = None;
    assert!(task.containers[0].is_application());
    // Known STOPPED alone is not enough (ECS may still restart the container).
    task.containers[0].desired_status = "RUNNING".into();
    assert!(!task.containers[0].is_stopped());
    assert!(!task.applications_stopped());
}

/// The Consul Dataplane layout (v0.10): mesh-init, consul-dataplane and health-sync are ours;
/// `consul-client` and `sidecar-proxy` would be applications there, as `consul-dataplane`
/// would be in the agent layout.
#[test]
fn application_rules_of_the_dataplane_layout() {
    let task: TaskMetadata = serde_json::from_value(serde_json::json!({
        "TaskARN": "arn:aws:ecs:us-east-1:123456789012:task/c/abc",
        "Containers": [
            {"Name": "consul-ecs-mesh-init", "Type": "NORMAL", "DesiredStatus": "STOPPED", "KnownStatus": "STOPPED"},
            {"Name": "consul-dataplane", "Type": "NORMAL", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING"},
            {"Name": "consul-ecs-health-sync", "Type": "NORMAL", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING"},
            {"Name": "web", "Type": "NORMAL", "DesiredStatus": "STOPPED", "KnownStatus": "STOPPED"},
            {"Name": "sidecar-proxy", "Type": "NORMAL", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING"},
            {"Name": "~internal~ecs~pause", "Type": "CNI_PAUSE", "DesiredStatus": "RUNNING", "KnownStatus": "RUNNING"},
        ],
    }))
    .unwrap();
    let names = |layout| {
        task.application_containers_in(layout)
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(MeshLayout::Dataplane), ["web", "sidecar-proxy"]);
    assert_eq!(names(MeshLayout::Agent), ["consul-dataplane", "web"]);
    assert!(!task.applications_stopped_in(MeshLayout::Dataplane));

    let mut stopped = task.clone();
    stopped.containers.remove(4);
    assert!(stopped.applications_stopped_in(MeshLayout::Dataplane));
    assert!(!stopped.applications_stopped_in(MeshLayout::Agent));

    // consul-dataplane without a sidecar-proxy; a task with both is an agent one.
    assert_eq!(MeshLayout::of_task(&stopped), MeshLayout::Dataplane);
    assert_eq!(MeshLayout::of_task(&task), MeshLayout::Agent);
    assert_eq!(
        MeshLayout::of_task(&load("fargate_task.json")),
        MeshLayout::Agent
    );
}
