//! Watches the task while it lives: the containers' processes, Consul (through the
//! emulator's state), Envoy's admin `/ready` and the app's port. Every change becomes a
//! timeline line, and the ECS metadata is kept in step with the processes as ECS would
//! (a container that exited is `STOPPED` with its exit code).

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};
use testkit::consul::ConsulEmulator;
use testkit::ecs_metadata::EcsMetadataEmulator;

use crate::consul_state::ConsulSnapshot;
use crate::logline;
use crate::probe::{self, Probe};
use crate::procs::{self, Container};
use crate::timeline::Timeline;

/// How often the observer looks. Short enough that the timeline's times mean something,
/// long enough to leave the (shared) CPUs to the task.
const TICK: Duration = Duration::from_millis(50);

/// How often the app is probed: each probe is a line in its log, so less often than Envoy.
const APP_PROBE_EVERY: Duration = Duration::from_millis(250);

/// The demo was asked to stop (Ctrl-C, SIGTERM, SIGHUP).
#[derive(Debug)]
pub struct Interrupted;

impl fmt::Display for Interrupted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "interrupted")
    }
}

impl std::error::Error for Interrupted {}

/// Fails with [`Interrupted`] once the demo was asked to stop, so a long set-up step is
/// not followed by the next one.
pub fn check_interrupted() -> Result<()> {
    if procs::interrupted() {
        bail!(Interrupted);
    }
    Ok(())
}

/// When things happened, for the summary.
#[derive(Debug, Default, Clone)]
pub struct Marks {
    /// When each container's main process exited (by ECS container name).
    pub exited: BTreeMap<&'static str, Duration>,
    /// The last time Envoy's admin port answered.
    pub envoy_last_answer: Option<Duration>,
}

/// The watcher; owns the running containers.
pub struct Observer<'a> {
    /// The timeline every change goes to.
    pub timeline: &'a Timeline,
    consul: &'a ConsulEmulator,
    ecs: &'a EcsMetadataEmulator,
    containers: Vec<Container>,
    last_consul: ConsulSnapshot,
    requests_seen: usize,
    /// Who the timeline credits for Consul requests and changes other than check statuses
    /// (those are always health-sync's).
    pub consul_actor: &'static str,
    envoy_admin: Option<u16>,
    last_envoy: Option<Probe>,
    app_port: Option<u16>,
    app_probed: Option<Instant>,
    last_app: Option<Probe>,
    marks: Marks,
}

impl<'a> Observer<'a> {
    /// Starts watching; the current Consul state and request log are the baseline
    /// (nothing is reported for them).
    pub fn new(
        timeline: &'a Timeline,
        consul: &'a ConsulEmulator,
        ecs: &'a EcsMetadataEmulator,
    ) -> Observer<'a> {
        Observer {
            timeline,
            consul,
            ecs,
            containers: Vec::new(),
            last_consul: ConsulSnapshot::take(consul),
            requests_seen: consul.requests().len(),
            consul_actor: "consul",
            envoy_admin: None,
            last_envoy: None,
            app_port: None,
            app_probed: None,
            last_app: None,
            marks: Marks::default(),
        }
    }

    /// Adds a started container to the watch.
    pub fn add(&mut self, container: Container) {
        self.timeline.event(
            container.who,
            format!(
                "started container {} (pid {})",
                container.name,
                container.pid()
            ),
        );
        self.containers.push(container);
    }

    /// Starts probing Envoy's admin `/ready` on `port`.
    pub fn watch_envoy(&mut self, port: u16) {
        self.envoy_admin = Some(port);
    }

    /// Starts probing the app on `port`.
    pub fn watch_app(&mut self, port: u16) {
        self.app_port = Some(port);
    }

    /// The container named `name`, if started.
    pub fn container(&self, name: &str) -> Option<&Container> {
        self.containers.iter().find(|c| c.name == name)
    }

    /// Whether container `name` was started and no [`Observer::tick`] has seen its process
    /// exit yet. Deliberately not a fresh look: a wait that ends on an exit must end after
    /// the exit was reported (timeline, ECS metadata), never between the two.
    pub fn running(&mut self, name: &str) -> bool {
        self.containers.iter().any(|c| c.name == name) && !self.marks.exited.contains_key(name)
    }

    /// The started containers whose exit no tick has reported yet.
    pub fn running_names(&mut self) -> Vec<&'static str> {
        self.containers
            .iter()
            .filter(|c| !self.marks.exited.contains_key(c.name))
            .map(|c| c.name)
            .collect()
    }

    /// What happened when, so far.
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// A check's status as last reported in the timeline (so that waiting on it never
    /// runs ahead of what has been printed).
    pub fn reported_check_status(&self, id: &str) -> Option<&str> {
        self.last_consul.checks.get(id).map(|c| c.status.as_str())
    }

    /// The last `/ready` answer seen.
    pub fn envoy_state(&self) -> Option<&Probe> {
        self.last_envoy.as_ref()
    }

    /// The last app probe seen.
    pub fn app_state(&self) -> Option<&Probe> {
        self.last_app.as_ref()
    }

    /// Looks once at everything and reports what changed.
    pub fn tick(&mut self) -> Result<()> {
        check_interrupted()?;
        // Exits first, reported last: whatever a process did before it exited (requests,
        // log lines, Consul changes) is then read in this same look and printed before
        // its exit, never after.
        let now = self.timeline.elapsed();
        let mut exited = Vec::new();
        for c in &mut self.containers {
            if !self.marks.exited.contains_key(c.name) {
                if let Some(status) = c.poll_exit() {
                    exited.push((c.name, c.who, status));
                }
            }
        }
        self.report_requests_and_logs();
        let snapshot = ConsulSnapshot::take(self.consul);
        for change in snapshot.changes_since(&self.last_consul) {
            let who = if change.is_check_status() {
                "health-sync"
            } else {
                self.consul_actor
            };
            self.timeline.event(who, change);
        }
        self.last_consul = snapshot;
        if let Some(port) = self.envoy_admin {
            let seen = probe::get(port, "/ready");
            if matches!(seen, Probe::Answer { .. }) {
                self.marks.envoy_last_answer = Some(self.timeline.elapsed());
            }
            if self.last_envoy.as_ref() != Some(&seen) {
                self.timeline
                    .event("envoy", format!("admin 127.0.0.1:{port}/ready: {seen}"));
                self.last_envoy = Some(seen);
            }
        }
        let app_due = self
            .app_probed
            .is_none_or(|t| t.elapsed() >= APP_PROBE_EVERY);
        if let (Some(port), true) = (self.app_port, app_due) {
            self.app_probed = Some(Instant::now());
            let seen = probe::get(port, "/");
            if self.last_app.as_ref() != Some(&seen) {
                self.timeline
                    .event("app", format!("GET 127.0.0.1:{port}/: {seen}"));
                self.last_app = Some(seen);
            }
        }
        for (name, who, status) in exited {
            self.marks.exited.insert(name, now);
            self.timeline
                .event(who, format!("exited with {}", procs::describe_exit(status)));
            // ECS notices the exit and reports it in the task metadata, which is what
            // envoy-entrypoint and health-sync watch.
            let code = status.code().unwrap_or(137);
            mark_container(self.ecs, name, "STOPPED", "STOPPED", Some(code));
            self.timeline.event(
                "ecs",
                format!("metadata: {name} KnownStatus STOPPED, ExitCode {code}"),
            );
        }
        Ok(())
    }

    /// Prints the Consul requests that arrived since the last look, each at the time the
    /// emulator received it (what each step asked of Consul, in order), merged with the
    /// log lines worth showing, at the time they were written.
    fn report_requests_and_logs(&mut self) {
        let mut lines: Vec<(Duration, &'static str, String)> = Vec::new();
        let requests = self.consul.requests();
        for r in requests.iter().skip(self.requests_seen) {
            let query = if r.query.is_empty() {
                String::new()
            } else {
                format!("?{}", r.query)
            };
            lines.push((
                r.at.saturating_duration_since(self.timeline.started()),
                self.consul_actor,
                format!("-> {} {}{query}: {}", r.method, r.path, r.status),
            ));
        }
        self.requests_seen = requests.len();
        let seen_now = self.timeline.elapsed();
        for c in &mut self.containers {
            for raw in c.new_log_lines() {
                let line = logline::parse(&raw);
                if logline::interesting(c.name, &line.message) {
                    let at = line
                        .at
                        .map_or(seen_now, |t| self.timeline.since_start(t).min(seen_now));
                    lines.push((at, c.who, format!("log: {}", line.message)));
                }
            }
        }
        // Stable: same-time lines keep the order they were gathered in.
        lines.sort_by_key(|(at, _, _)| *at);
        for (at, who, what) in lines {
            self.timeline.event_at(at, who, what);
        }
    }

    /// Ticks until `done` holds, failing after `limit` with `what` in the message.
    pub fn wait_for(
        &mut self,
        what: &str,
        limit: Duration,
        mut done: impl FnMut(&mut Observer<'a>) -> bool,
    ) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            self.tick()?;
            if done(self) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!("timed out after {limit:?} waiting for {what}");
            }
            std::thread::sleep(TICK);
        }
    }

    /// Prints the end of every container's log, for a run that failed.
    pub fn dump_logs(&self, lines: usize) {
        for c in &self.containers {
            eprintln!(
                "---- {} ({}), last {lines} lines of {} ----\n{}",
                c.name,
                c.who,
                c.log_path().display(),
                c.log_tail(lines)
            );
        }
        let log = self.consul.request_log();
        let tail: Vec<&str> = log.lines().collect();
        eprintln!(
            "---- Consul emulator, last {lines} requests ----\n{}",
            tail[tail.len().saturating_sub(lines)..].join("\n")
        );
    }

    /// SIGKILLs every container still running (their whole process trees); returns the
    /// names of those that were.
    pub fn kill_all(&mut self) -> Vec<&'static str> {
        let mut killed = Vec::new();
        for c in &mut self.containers {
            if c.running() {
                killed.push(c.name);
            }
            c.kill_tree();
        }
        killed
    }
}

/// Sets a container's statuses (and exit code) in the task metadata, as ECS reports them.
pub fn mark_container(
    ecs: &EcsMetadataEmulator,
    name: &str,
    desired: &str,
    known: &str,
    exit_code: Option<i32>,
) {
    let mut task = ecs.task();
    if let Some(containers) = task["Containers"].as_array_mut() {
        for c in containers.iter_mut().filter(|c| c["Name"] == json!(name)) {
            c["DesiredStatus"] = json!(desired);
            c["KnownStatus"] = json!(known);
            if let Some(code) = exit_code {
                c["ExitCode"] = json!(code);
            }
        }
    }
    ecs.set_task(task);
}

/// Every container's `(name, DesiredStatus, KnownStatus)` in the task metadata.
pub fn container_statuses(ecs: &EcsMetadataEmulator) -> Vec<(String, String, String)> {
    let task = ecs.task();
    let text = |c: &Value, k: &str| c[k].as_str().unwrap_or_default().to_string();
    task["Containers"]
        .as_array()
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    (
                        text(c, "Name"),
                        text(c, "DesiredStatus"),
                        text(c, "KnownStatus"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}
