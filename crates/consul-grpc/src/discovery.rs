//! `consulServers.hosts`: where the servers are, as go-netaddrs reads it for
//! consul-server-connection-manager — one IP address, a DNS name (every address it resolves
//! to), or `exec=<command> [args]` whose standard output lists the addresses.

use std::net::IpAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// Most bytes of an `exec=` command's output read: an address list is a few hundred bytes.
const EXEC_OUTPUT_LIMIT: u64 = 64 * 1024;
/// Most bytes of the command's standard error quoted in an error (go-netaddrs' contract).
const EXEC_STDERR_QUOTED: usize = 1024;

/// Why discovery found no server.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    /// `consulServers.hosts` is empty.
    #[error("consulServers.hosts is empty: expected an IP address, a DNS name or exec=<command>")]
    Empty,
    /// `exec=` without a command.
    #[error("consulServers.hosts: exec= names no command")]
    NoCommand,
    /// The DNS name did not resolve.
    #[error("could not resolve DNS name {name}: {source}")]
    Resolve {
        /// The name.
        name: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The command could not be started.
    #[error("running {program} (consulServers.hosts exec=): {source}")]
    Spawn {
        /// The program.
        program: String,
        /// Why it could not be started.
        source: std::io::Error,
    },
    /// The command exited non-zero (its standard error, up to 1 KiB, is quoted).
    #[error("{program} (consulServers.hosts exec=) failed with {status}: {stderr}")]
    CommandFailed {
        /// The program.
        program: String,
        /// How it ended (`exit status: 3`, `signal: 9`).
        status: String,
        /// The start of its standard error.
        stderr: String,
    },
    /// The command did not finish in time (it is killed).
    #[error("{program} (consulServers.hosts exec=) did not finish within {after:?}")]
    CommandTimeout {
        /// The program.
        program: String,
        /// The time allowed.
        after: Duration,
    },
    /// The command printed something that is not an IP address.
    #[error("{program} (consulServers.hosts exec=) printed {word:?}: expected IP addresses separated by white space")]
    NotAnAddress {
        /// The program.
        program: String,
        /// The offending word.
        word: String,
    },
    /// The name or the command gave no address at all.
    #[error("{source_name} gave no address")]
    NoAddress {
        /// The DNS name or the program.
        source_name: String,
    },
}

impl DiscoveryError {
    /// Whether trying again may give addresses (DNS or the command may answer later); a
    /// setting that can never work is final.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DiscoveryError::Resolve { .. }
                | DiscoveryError::CommandFailed { .. }
                | DiscoveryError::CommandTimeout { .. }
                | DiscoveryError::NoAddress { .. }
        )
    }
}

/// The parsed `consulServers.hosts` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerHosts {
    /// One IP address.
    Address(IpAddr),
    /// A DNS name: every address it resolves to.
    DnsName(String),
    /// `exec=<program> [args]`, split on white space as go-netaddrs does (no shell).
    Exec {
        /// The program.
        program: String,
        /// Its arguments.
        args: Vec<String>,
    },
}

impl ServerHosts {
    /// Parses `consulServers.hosts`.
    pub fn parse(hosts: &str) -> Result<ServerHosts, DiscoveryError> {
        let hosts = hosts.trim();
        if hosts.is_empty() {
            return Err(DiscoveryError::Empty);
        }
        if let Some(command) = hosts.strip_prefix("exec=") {
            let mut words = command.split_whitespace().map(str::to_owned);
            let program = words.next().ok_or(DiscoveryError::NoCommand)?;
            return Ok(ServerHosts::Exec {
                program,
                args: words.collect(),
            });
        }
        Ok(match hosts.parse::<IpAddr>() {
            Ok(ip) => ServerHosts::Address(ip),
            Err(_) => ServerHosts::DnsName(hosts.to_owned()),
        })
    }

    /// The name TLS verifies when no `tlsServerName` is configured, as
    /// consul-server-connection-manager infers it: the hosts value itself, unless `exec=`.
    pub fn default_tls_server_name(&self) -> Option<String> {
        match self {
            ServerHosts::Address(ip) => Some(ip.to_string()),
            ServerHosts::DnsName(name) => Some(name.clone()),
            ServerHosts::Exec { .. } => None,
        }
    }

    /// The addresses now (in the order found, without duplicates). `timeout` bounds an
    /// `exec=` command, which is killed when it runs longer.
    pub async fn discover(&self, timeout: Duration) -> Result<Vec<IpAddr>, DiscoveryError> {
        let found = match self {
            ServerHosts::Address(ip) => vec![*ip],
            ServerHosts::DnsName(name) => resolve(name).await?,
            ServerHosts::Exec { program, args } => run(program, args, timeout).await?,
        };
        let mut unique = Vec::with_capacity(found.len());
        for ip in found {
            if !unique.contains(&ip) {
                unique.push(ip);
            }
        }
        if unique.is_empty() {
            return Err(DiscoveryError::NoAddress {
                source_name: match self {
                    ServerHosts::Exec { program, .. } => program.clone(),
                    other => other.default_tls_server_name().unwrap_or_default(),
                },
            });
        }
        Ok(unique)
    }
}

async fn resolve(name: &str) -> Result<Vec<IpAddr>, DiscoveryError> {
    let addrs =
        tokio::net::lookup_host((name, 0))
            .await
            .map_err(|source| DiscoveryError::Resolve {
                name: name.to_owned(),
                source,
            })?;
    Ok(addrs.map(|a| a.ip()).collect())
}

async fn run(
    program: &str,
    args: &[String],
    timeout: Duration,
) -> Result<Vec<IpAddr>, DiscoveryError> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| DiscoveryError::Spawn {
            program: program.to_owned(),
            source,
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err(DiscoveryError::Spawn {
            program: program.to_owned(),
            source: std::io::Error::other("no pipe to the command"),
        });
    };
    let finished = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        // Both pipes at once, so a command filling one while we read the other cannot
        // block; each bounded, so a runaway command cannot fill the memory.
        let (mut stdout, mut stderr) = (
            stdout.take(EXEC_OUTPUT_LIMIT),
            stderr.take(EXEC_OUTPUT_LIMIT),
        );
        let (read_out, read_err) =
            tokio::join!(stdout.read_to_end(&mut out), stderr.read_to_end(&mut err));
        let status = child.wait().await;
        (read_out.and(read_err).and(status), out, err)
    };
    let (status, out, err) = match tokio::time::timeout(timeout, finished).await {
        Ok(done) => done,
        // Dropping the future drops the child: kill_on_drop ends it.
        Err(_) => {
            return Err(DiscoveryError::CommandTimeout {
                program: program.to_owned(),
                after: timeout,
            })
        }
    };
    let status = status.map_err(|source| DiscoveryError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    if !status.success() {
        let quoted = &err[..err.len().min(EXEC_STDERR_QUOTED)];
        return Err(DiscoveryError::CommandFailed {
            program: program.to_owned(),
            status: status.to_string(),
            stderr: String::from_utf8_lossy(quoted).trim().to_owned(),
        });
    }
    if !err.is_empty() {
        tracing::debug!(program, stderr = %String::from_utf8_lossy(&err[..err.len().min(EXEC_STDERR_QUOTED)]).trim(), "consulServers.hosts command wrote to stderr");
    }
    let text = String::from_utf8_lossy(&out);
    text.split_whitespace()
        .map(|word| {
            // go-netaddrs accepts "quoted" addresses.
            let bare = word
                .strip_prefix('"')
                .and_then(|w| w.strip_suffix('"'))
                .unwrap_or(word);
            bare.parse::<IpAddr>()
                .map_err(|_| DiscoveryError::NotAnAddress {
                    program: program.to_owned(),
                    word: word.to_owned(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            ServerHosts::parse("10.0.0.5").unwrap(),
            ServerHosts::Address("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            ServerHosts::parse("consul.example.com").unwrap(),
            ServerHosts::DnsName("consul.example.com".into())
        );
        assert_eq!(
            ServerHosts::parse("exec=/bin/discover -provider aws  tag=consul").unwrap(),
            ServerHosts::Exec {
                program: "/bin/discover".into(),
                args: vec!["-provider".into(), "aws".into(), "tag=consul".into()],
            }
        );
        assert!(matches!(
            ServerHosts::parse(" "),
            Err(DiscoveryError::Empty)
        ));
        assert!(matches!(
            ServerHosts::parse("exec=  "),
            Err(DiscoveryError::NoCommand)
        ));
    }

    #[test]
    fn tls_name_is_inferred_except_for_exec() {
        let dns = ServerHosts::parse("consul.example.com").unwrap();
        assert_eq!(
            dns.default_tls_server_name().as_deref(),
            Some("consul.example.com")
        );
        let exec = ServerHosts::parse("exec=discover").unwrap();
        assert_eq!(exec.default_tls_server_name(), None);
    }

    #[tokio::test]
    async fn an_address_is_itself() {
        let hosts = ServerHosts::parse("::1").unwrap();
        let found = hosts.discover(Duration::from_secs(1)).await.unwrap();
        assert_eq!(found, vec!["::1".parse::<IpAddr>().unwrap()]);
    }

    #[tokio::test]
    async fn a_dns_name_gives_all_its_addresses() {
        // "localhost" is in /etc/hosts on every machine this runs on.
        let hosts = ServerHosts::parse("localhost").unwrap();
        let found = hosts.discover(Duration::from_secs(5)).await.unwrap();
        assert!(
            found.contains(&"127.0.0.1".parse::<IpAddr>().unwrap()),
            "localhost resolved to {found:?}"
        );
        let bad = ServerHosts::parse("no-such-host.invalid").unwrap();
        let err = bad.discover(Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(err, DiscoveryError::Resolve { .. }), "{err:?}");
    }

    /// An executable shell script in `dir`.
    fn script(dir: &tempfile::TempDir, name: &str, body: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[tokio::test]
    async fn exec_lists_the_addresses_the_command_prints() {
        let dir = tempfile::tempdir().unwrap();
        let servers = script(
            &dir,
            "servers.sh",
            "echo '10.0.0.1 \"10.0.0.2\"'\necho 10.0.0.1 fd00::3 $1\necho warning >&2\n",
        );
        let hosts = ServerHosts::parse(&format!("exec={} 10.0.0.4", servers.display())).unwrap();
        let found = hosts.discover(Duration::from_secs(5)).await.unwrap();
        let want: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "fd00::3", "10.0.0.4"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        assert_eq!(found, want);
    }

    #[tokio::test]
    async fn exec_failures_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let silent = script(&dir, "silent.sh", "exit 0\n");
        let err = ServerHosts::parse(&format!("exec={}", silent.display()))
            .unwrap()
            .discover(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, DiscoveryError::NoAddress { .. }), "{err:?}");

        let failing = script(&dir, "fail.sh", "echo 'no servers tagged' >&2\nexit 3\n");
        let err = ServerHosts::parse(&format!("exec={}", failing.display()))
            .unwrap()
            .discover(Duration::from_secs(5))
            .await
            .unwrap_err();
        match &err {
            DiscoveryError::CommandFailed { status, stderr, .. } => {
                assert_eq!(status, "exit status: 3");
                assert_eq!(stderr, "no servers tagged");
            }
            other => panic!("expected CommandFailed, got {other:?}"),
        }
        assert!(err.is_retryable());

        let garbage = script(&dir, "garbage.sh", "echo 10.0.0.1 consul-1\n");
        let err = ServerHosts::parse(&format!("exec={}", garbage.display()))
            .unwrap()
            .discover(Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DiscoveryError::NotAnAddress { word, .. } if word == "consul-1"),
            "{err:?}"
        );
        assert!(!err.is_retryable());

        let missing = ServerHosts::parse("exec=/nonexistent/discover").unwrap();
        let err = missing.discover(Duration::from_secs(5)).await.unwrap_err();
        assert!(matches!(err, DiscoveryError::Spawn { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_command_that_hangs_is_killed_at_the_timeout() {
        let hosts = ServerHosts::parse("exec=/bin/sleep 30").unwrap();
        let started = std::time::Instant::now();
        let err = hosts
            .discover(Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DiscoveryError::CommandTimeout { .. }),
            "{err:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
