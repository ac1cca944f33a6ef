//! One task's world for the end-to-end tests: the Consul emulator, the ECS task metadata
//! emulator and a bootstrap directory, plus a field-by-field JSON assertion.

use std::fs;
use std::path::Path;

use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};

use super::{Run, TestCommand};

/// One task's world: Consul, ECS metadata and a bootstrap directory.
pub struct World {
    pub consul: ConsulEmulator,
    pub ecs: EcsMetadataEmulator,
    pub dir: tempfile::TempDir,
    pub task_id: String,
    pub task_arn: String,
}

impl World {
    /// A task of `family` whose Consul has ACLs on and the service-token aws-iam method
    /// (`method`) trusting `aws`'s roles.
    pub fn with_iam_auth(family: &str, aws: &AwsWorld, method: &IamAuthOptions) -> World {
        let w = World::new(
            family,
            EmulatorOptions {
                acls_enabled: true,
                ..Default::default()
            },
        );
        w.consul.configure_iam_auth(aws, method);
        w
    }

    pub fn new(family: &str, opts: EmulatorOptions) -> World {
        let task = fargate_task(family, &["app", "sidecar-proxy", "consul-ecs-mesh-init"]);
        let task_arn = task["TaskARN"].as_str().unwrap().to_string();
        let task_id = task_arn.rsplit('/').next().unwrap().to_string();
        World {
            consul: ConsulEmulator::start(opts),
            ecs: EcsMetadataEmulator::start(task),
            dir: tempfile::tempdir().unwrap(),
            task_id,
            task_arn,
        }
    }

    pub fn bootstrap_dir(&self) -> &Path {
        self.dir.path()
    }

    /// `config` with `bootstrapDir` pointing at this world's directory.
    pub fn config(&self, mut config: Value) -> String {
        config["bootstrapDir"] = json!(self.bootstrap_dir());
        config.to_string()
    }

    pub fn mesh_init(&self, config: &str) -> TestCommand {
        TestCommand::new(["mesh-init", "-register-timeout", "20s"])
            .env("CONSUL_ECS_CONFIG_JSON", config)
            .env("ECS_CONTAINER_METADATA_URI_V4", self.ecs.uri())
            .env("CONSUL_HTTP_ADDR", self.consul.http_addr())
    }

    /// Runs mesh-init and fails with the emulator's request log when the exit code differs.
    pub fn run(&self, config: &str, code: i32) -> Run {
        let run = self.mesh_init(config).run();
        assert!(
            run.code() == Some(code),
            "expected exit code {code}\n{run}\n---- Consul request log ----\n{}",
            self.consul.request_log()
        );
        run
    }

    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.bootstrap_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    pub fn service(&self, id: &str) -> Value {
        let services = self.consul.services();
        services.get(id).cloned().unwrap_or_else(|| {
            panic!(
                "no service {id:?} registered; have {:?}",
                services.keys().collect::<Vec<_>>()
            )
        })
    }
}

/// Asserts that every field of `expected` is in `actual` with the same value (objects
/// recursively; arrays element by element and of equal length), naming the first path that
/// differs.
pub fn assert_fields(actual: &Value, expected: &Value) {
    pub fn walk(path: &str, actual: &Value, expected: &Value) -> Result<(), String> {
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => {
                for (k, ev) in e {
                    let p = format!("{path}.{k}");
                    match a.get(k) {
                        Some(av) => walk(&p, av, ev)?,
                        None if ev.is_null() => {}
                        None => return Err(format!("{p}: missing, expected {ev}")),
                    }
                }
                Ok(())
            }
            (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    walk(&format!("{path}[{i}]"), av, ev)?;
                }
                Ok(())
            }
            _ if expected == actual => Ok(()),
            _ => Err(format!("{path}: expected {expected}, got {actual}")),
        }
    }
    if let Err(diff) = walk("$", actual, expected) {
        panic!(
            "{diff}\n---- actual ----\n{}\n---- expected ----\n{}",
            serde_json::to_string_pretty(actual).unwrap(),
            serde_json::to_string_pretty(expected).unwrap()
        );
    }
}
