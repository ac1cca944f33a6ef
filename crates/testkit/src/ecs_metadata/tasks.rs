//! Realistic task documents shaped like docs/protocols.md §1.3 (Fargate) and §1.4 (EC2).

use serde_json::{json, Value};

/// The account in every generated `TaskARN` and cluster ARN.
pub const ACCOUNT_ID: &str = "123456789012";
/// The cluster name of generated tasks.
pub const CLUSTER_NAME: &str = "test-cluster";
/// Region of [`fargate_task`] ARNs.
pub const FARGATE_REGION: &str = "us-east-1";
/// Region of [`ec2_task`] ARNs.
pub const EC2_REGION: &str = "us-west-2";
/// The task ENI address every container of a [`fargate_task`] reports.
pub const FARGATE_NODE_IP: &str = "10.0.1.23";
/// The task ENI address every container of an [`ec2_task`] reports.
pub const EC2_NODE_IP: &str = "10.0.2.61";
/// Name of the agent-injected awsvpc pause container on EC2.
pub const PAUSE_CONTAINER_NAME: &str = "~internal~ecs~pause";

/// A running Fargate task (§1.3): `Cluster` is an ARN, the `TaskARN` is in
/// [`FARGATE_REGION`] with a fresh 32-hex task ID, and every named container is `RUNNING`
/// (`Type` `NORMAL`, no `Health` until one is scripted) on an awsvpc network with
/// [`FARGATE_NODE_IP`].
pub fn fargate_task(family: &str, containers: &[&str]) -> Value {
    let task_id = uuid::Uuid::new_v4().simple().to_string();
    let task_arn =
        format!("arn:aws:ecs:{FARGATE_REGION}:{ACCOUNT_ID}:task/{CLUSTER_NAME}/{task_id}");
    let cluster_arn = format!("arn:aws:ecs:{FARGATE_REGION}:{ACCOUNT_ID}:cluster/{CLUSTER_NAME}");
    let network = json!({
        "NetworkMode": "awsvpc",
        "IPv4Addresses": [FARGATE_NODE_IP],
        "AttachmentIndex": 0,
        "MACAddress": "0a:1b:2c:3d:4e:5f",
        "IPv4SubnetCIDRBlock": "10.0.1.0/24",
        "PrivateDNSName": "ip-10-0-1-23.ec2.internal",
        "SubnetGatewayIpv4Address": "10.0.1.1/24"
    });
    let containers: Vec<Value> = containers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            // Fargate DockerIds look like "<task id>-<10 digits>".
            let docker_id = format!("{task_id}-{:010}", 1_000_000_000u64 + i as u64 * 7_919);
            container(name, &docker_id, family, &cluster_arn, &task_arn, &network)
        })
        .collect();
    json!({
        "Cluster": cluster_arn,
        "TaskARN": task_arn,
        "Family": family,
        "Revision": "1",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 0.5, "Memory": 1024},
        "PullStartedAt": "2024-02-16T12:00:01.0Z",
        "PullStoppedAt": "2024-02-16T12:00:09.0Z",
        "AvailabilityZone": "us-east-1a",
        "LaunchType": "FARGATE",
        "Containers": containers
    })
}

/// A running EC2 task in awsvpc mode (§1.4): short `Cluster` name, `TaskARN` in
/// [`EC2_REGION`], and the agent's [`PAUSE_CONTAINER_NAME`] container (`Type` `CNI_PAUSE`,
/// status `RESOURCES_PROVISIONED`) listed first, then every named container `RUNNING` with
/// [`EC2_NODE_IP`].
pub fn ec2_task(family: &str, containers: &[&str]) -> Value {
    let task_id = uuid::Uuid::new_v4().simple().to_string();
    let task_arn = format!("arn:aws:ecs:{EC2_REGION}:{ACCOUNT_ID}:task/{CLUSTER_NAME}/{task_id}");
    let network = json!({
        "NetworkMode": "awsvpc",
        "IPv4Addresses": [EC2_NODE_IP],
        "AttachmentIndex": 0,
        "MACAddress": "0e:10:e2:01:bd:91",
        "IPv4SubnetCIDRBlock": "10.0.2.0/24",
        "PrivateDNSName": "ip-10-0-2-61.us-west-2.compute.internal",
        "SubnetGatewayIpv4Address": "10.0.2.1/24"
    });
    let mut list = vec![json!({
        "DockerId": docker_id_64(&task_id, 0),
        "Name": PAUSE_CONTAINER_NAME,
        "DockerName": format!("ecs-{family}-1-internalecspause-e292d586b6f9dade4a00"),
        "Image": "amazon/amazon-ecs-pause:0.1.0",
        "ImageID": "",
        "Labels": labels(PAUSE_CONTAINER_NAME, family, CLUSTER_NAME, &task_arn),
        "DesiredStatus": "RESOURCES_PROVISIONED",
        "KnownStatus": "RESOURCES_PROVISIONED",
        "Limits": {"CPU": 0, "Memory": 0},
        "Type": "CNI_PAUSE",
        "Networks": [network.clone()]
    })];
    list.extend(containers.iter().enumerate().map(|(i, name)| {
        let mut c = container(
            name,
            &docker_id_64(&task_id, i + 1),
            family,
            CLUSTER_NAME,
            &task_arn,
            &network,
        );
        c["DockerName"] = json!(format!("ecs-{family}-1-{name}-a0e7dba5aca6d8cb2e00"));
        c["ContainerARN"] = json!(format!(
            "arn:aws:ecs:{EC2_REGION}:{ACCOUNT_ID}:container/{}",
            uuid::Uuid::new_v4()
        ));
        c
    }));
    json!({
        "Cluster": CLUSTER_NAME,
        "TaskARN": task_arn,
        "Family": family,
        "Revision": "1",
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "PullStartedAt": "2020-10-02T00:43:06.202617438Z",
        "PullStoppedAt": "2020-10-02T00:43:06.31288465Z",
        "AvailabilityZone": "us-west-2d",
        "LaunchType": "EC2",
        "Containers": list
    })
}

/// A 64-hex Docker container ID, distinct per container of a task.
fn docker_id_64(task_id: &str, index: usize) -> String {
    format!("{task_id}{index:032x}")
}

fn labels(name: &str, family: &str, cluster: &str, task_arn: &str) -> Value {
    json!({
        "com.amazonaws.ecs.cluster": cluster,
        "com.amazonaws.ecs.container-name": name,
        "com.amazonaws.ecs.task-arn": task_arn,
        "com.amazonaws.ecs.task-definition-family": family,
        "com.amazonaws.ecs.task-definition-version": "1"
    })
}

fn container(
    name: &str,
    docker_id: &str,
    family: &str,
    cluster: &str,
    task_arn: &str,
    network: &Value,
) -> Value {
    json!({
        "DockerId": docker_id,
        "Name": name,
        "DockerName": name,
        "Image": format!("docker.io/example/{name}:latest"),
        "ImageID": "sha256:4c1f9f3e0e1c1bc8d0c7a0f3e5a4b2d1c0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5",
        "Labels": labels(name, family, cluster, task_arn),
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": {"CPU": 0, "Memory": 0},
        "CreatedAt": "2024-02-16T12:00:20.1Z",
        "StartedAt": "2024-02-16T12:00:20.9Z",
        "Type": "NORMAL",
        "Networks": [network.clone()]
    })
}
