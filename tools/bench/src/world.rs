//! One mesh task's world on loopback, as the benchmarks need it: moto with the task role,
//! the Consul emulator with ACLs on and the aws-iam auth method pointing at moto, and the
//! ECS task metadata emulator. The same setup `tests/` uses, built from `testkit`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};
use testkit::aws::AwsWorld;
use testkit::consul::{ConsulEmulator, EmulatorOptions, IamAuthOptions};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};

use crate::proc::{Exit, Launched, Usage};

/// The task family and service name.
pub const SERVICE: &str = "web";

/// A task's world. The AWS side may be shared between worlds (moto takes seconds to start).
pub struct World {
    /// moto with the task role.
    pub aws: Arc<AwsWorld>,
    /// Consul, ACLs enabled, the service-token auth method configured.
    pub consul: ConsulEmulator,
    /// The task metadata endpoint.
    pub ecs: EcsMetadataEmulator,
    /// The task as first served (to reset it between trials).
    pub task: Value,
}

impl World {
    /// Starts Consul and ECS metadata emulators against `aws`.
    pub fn start(aws: Arc<AwsWorld>) -> World {
        let consul = ConsulEmulator::start(EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        consul.configure_iam_auth(&aws, &IamAuthOptions::default());
        let task = fargate_task(
            SERVICE,
            &[
                "app",
                "sidecar-proxy",
                "consul-client",
                "consul-ecs-mesh-init",
                "consul-ecs-health-sync",
            ],
        );
        World {
            aws,
            consul,
            ecs: EcsMetadataEmulator::start(task.clone()),
            task,
        }
    }

    /// `CONSUL_ECS_CONFIG_JSON` for a service with one synced container and one upstream,
    /// logging in with the aws-iam method (moto as the STS endpoint).
    pub fn config(&self, bootstrap_dir: &Path) -> Value {
        json!({
            "bootstrapDir": bootstrap_dir,
            "healthSyncContainers": ["app"],
            "service": {"port": 9090, "tags": ["v1"]},
            "proxy": {"upstreams": [{"destinationName": "backend", "localBindPort": 1234}]},
            "consulLogin": {
                "enabled": true,
                "region": testkit::aws::REGION,
                "stsEndpoint": self.aws.endpoint(),
            }
        })
    }

    /// The environment a task container of this world sees.
    pub fn env(&self, config: &Value) -> Vec<(String, String)> {
        let mut env = vec![
            ("CONSUL_ECS_CONFIG_JSON".to_string(), config.to_string()),
            ("ECS_CONTAINER_METADATA_URI_V4".to_string(), self.ecs.uri()),
            ("CONSUL_HTTP_ADDR".to_string(), self.consul.http_addr()),
        ];
        env.extend(self.aws.credentials_env(self.aws.task_role()));
        env
    }

    /// A command for `binary` with this world's environment (and nothing of ours that the
    /// binary reads), output discarded except stderr, which goes to `stderr_log`.
    pub fn command(
        &self,
        binary: &Path,
        args: &[&str],
        config: &Value,
        stderr_log: &Path,
    ) -> Result<Command> {
        let mut cmd = Command::new(binary);
        self.configure(&mut cmd, args, config, stderr_log)?;
        Ok(cmd)
    }

    /// Gives `cmd` the arguments, environment and stdio [`World::command`] gives.
    pub fn configure(
        &self,
        cmd: &mut Command,
        args: &[&str],
        config: &Value,
        stderr_log: &Path,
    ) -> Result<()> {
        let log = std::fs::File::create(stderr_log)
            .with_context(|| format!("create {}", stderr_log.display()))?;
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(self.env(config))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        Ok(())
    }

    /// Runs `mesh-init` to completion (through a launcher, so its peak RSS is its own);
    /// fails with its stderr unless it exits 0.
    pub fn mesh_init(&self, binary: &Path, bootstrap_dir: &Path) -> Result<Usage> {
        let config = self.config(bootstrap_dir);
        let log = bootstrap_dir.with_extension("stderr.log");
        let mut launched = Launched::new(binary)?;
        self.configure(launched.command(), &["mesh-init"], &config, &log)?;
        let usage = launched.run(Duration::from_secs(60))?;
        if usage.exit != Exit::Code(0) {
            bail!(
                "mesh-init ended with {}:\n{}\n---- Consul requests ----\n{}",
                usage.exit,
                std::fs::read_to_string(&log).unwrap_or_default(),
                self.consul.request_log()
            );
        }
        Ok(usage)
    }
}
