//! The way across: a v0.6.2 (client agent) configuration turned into its
//! v0.10 (Consul Dataplane) equivalent.
//!
//! Most of the document carries over as it is: the blocks are the same
//! types in both layouts. What changes meaning or has no equivalent is
//! listed as [`Note`]s, each naming a JSON path: a [`NoteKind::Changed`]
//! note says how a setting was carried over (nothing to decide), a
//! [`NoteKind::Decision`] note says what the operator must settle before the
//! result is used (the v0.6.2 value had no v0.10 equivalent, or the v0.10
//! document needs a value the v0.6.2 one never held).
//!
//! The result always passes the v0.10 rules ([`crate::dataplane::parse`]).

use std::fmt;

use crate::dataplane::{self, ConsulServers, ServerDefaults, ServerGrpc, ServerHttp};
use crate::model::non_empty;
use crate::{Config, ConfigError, LoadedConfig, Proxy};

/// Whether a note needs the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Carried over, with a change of meaning worth knowing.
    Changed,
    /// No equivalent, or a value the v0.6.2 config did not hold: decide.
    Decision,
}

/// One thing the migration could not carry over unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// JSON path of the setting (in the v0.6.2 input, or in the v0.10 output
    /// for a value the input never had).
    pub path: String,
    /// Whether the operator must decide something.
    pub kind: NoteKind,
    /// What happened and why; for a decision, what to do.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.kind {
            NoteKind::Changed => "changed",
            NoteKind::Decision => "decide",
        };
        write!(f, "{label}: {}: {}", self.path, self.message)
    }
}

/// The v0.10 document and what the operator should know about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Migration {
    /// The v0.10 configuration.
    pub config: dataplane::Config,
    /// Everything that did not carry over unchanged, in document order.
    pub notes: Vec<Note>,
}

impl Migration {
    /// Whether some note needs a decision (the migrated config is then not
    /// ready to use as it is).
    pub fn needs_decision(&self) -> bool {
        self.notes.iter().any(|n| n.kind == NoteKind::Decision)
    }

    /// The v0.10 document as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        // A struct of strings, numbers, maps and lists always serialises.
        serde_json::to_string_pretty(&self.config).unwrap_or_default()
    }
}

/// Why a document could not be migrated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    /// The input is not a usable v0.6.2 configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The input already is a v0.10 configuration.
    #[error("this is already a v0.10 (Consul Dataplane) config (it has `consulServers`); there is nothing to migrate")]
    AlreadyDataplane,
}

/// Migrates a v0.6.2 document given as text.
pub fn migrate_text(text: &str) -> Result<Migration, MigrateError> {
    match crate::load(text)? {
        LoadedConfig::Agent(config) => Ok(migrate(&config)),
        LoadedConfig::Dataplane(_) => Err(MigrateError::AlreadyDataplane),
    }
}

/// Migrates a loaded v0.6.2 configuration.
pub fn migrate(agent: &Config) -> Migration {
    let mut notes = Vec::new();
    let consul_servers = consul_servers(agent, &mut notes);
    login_notes(agent, &mut notes);

    let mut service = agent.service.clone();
    if let Some(service) = service.as_mut() {
        for (index, check) in service.checks.drain(..).enumerate() {
            notes.push(check_note(index, &check, agent.is_gateway()));
        }
    }

    // upstream v0.10 crashes on a service task without `proxy`; v0.6.2 did too.
    let proxy = match (&agent.proxy, agent.is_gateway()) {
        (None, false) => {
            notes.push(Note {
                path: "proxy".into(),
                kind: NoteKind::Changed,
                message: "written as {} (no upstreams); consul-ecs v0.10 itself fails on a \
                          service task without it"
                    .into(),
            });
            Some(Proxy::default())
        }
        (proxy, _) => proxy.clone(),
    };

    let transparent_proxy = (!agent.is_gateway()).then(|| {
        notes.push(Note {
            path: "transparentProxy.enabled".into(),
            kind: NoteKind::Changed,
            message: "written as false, as the v0.6.2 task ran: v0.10 turns the transparent \
                      proxy on by default (EC2 only; mesh-init then needs NET_ADMIN and runs as \
                      root). Set it to true to adopt it"
                .into(),
        });
        dataplane::TransparentProxy {
            enabled: Some(false),
            ..Default::default()
        }
    });

    let config = dataplane::Config {
        bootstrap_dir: agent.bootstrap_dir.clone(),
        log_level: agent.log_level,
        consul_login: agent.consul_login.clone(),
        controller: None,
        consul_servers,
        health_sync_containers: agent.health_sync_containers.clone(),
        service,
        proxy,
        gateway: agent.gateway.clone(),
        transparent_proxy,
    };
    notes.sort_by_key(|note| path_rank(&note.path));
    Migration { config, notes }
}

/// What becomes of `service.checks[index]`, which v0.10 does not have.
fn check_note(index: usize, check: &crate::Check, gateway_task: bool) -> Note {
    let path = format!("service.checks.{index}");
    let name = non_empty(&check.name)
        .or(non_empty(&check.check_id))
        .map(|n| format!(" {n:?}"))
        .unwrap_or_default();
    if gateway_task {
        return Note {
            path,
            kind: NoteKind::Changed,
            message: format!(
                "check{name} dropped: v0.10 has no service.checks, and v0.6.2 did not register \
                 it for a gateway task either"
            ),
        };
    }
    Note {
        path,
        kind: NoteKind::Decision,
        message: format!(
            "check{name} has no v0.10 equivalent: without a client agent nothing runs Consul \
             checks. Make it an ECS health check of the container and list that container in \
             healthSyncContainers (health-sync copies its ECS health into Consul)"
        ),
    }
}

/// Orders notes as the keys appear in a v0.6.2 document.
fn path_rank(path: &str) -> usize {
    const ORDER: [&str; 8] = [
        "consulHTTPAddr",
        "consulServers",
        "consulCACertFile",
        "consulLogin",
        "service",
        "proxy",
        "gateway",
        "transparentProxy",
    ];
    ORDER
        .iter()
        .position(|key| path.split('.').next() == Some(key))
        .unwrap_or(ORDER.len())
}

/// `consulHTTPAddr` and `consulCACertFile` → `consulServers`.
fn consul_servers(agent: &Config, notes: &mut Vec<Note>) -> ConsulServers {
    let mut servers = ConsulServers::default();
    match agent.consul_http_addr() {
        None => notes.push(Note {
            path: "consulServers.hosts".into(),
            kind: NoteKind::Decision,
            message: "set the Consul servers' address (a name, an IP, or exec=<command>): the \
                      v0.6.2 config has no consulHTTPAddr, so its tasks reached the servers \
                      through CONSUL_HTTP_ADDR or the local client agent, which v0.10 does not \
                      run. Written empty"
                .into(),
        }),
        Some(address) => match ServerAddress::parse(address) {
            Err(problem) => notes.push(Note {
                path: "consulHTTPAddr".into(),
                kind: NoteKind::Decision,
                message: format!(
                    "{problem}; set consulServers.hosts (and consulServers.http) by hand. \
                     consulServers.hosts is written empty"
                ),
            }),
            Ok(server) => {
                servers.hosts = server.host.clone();
                let http = ServerHttp {
                    https: (!server.https).then_some(false),
                    port: (server.port != dataplane::DEFAULT_HTTP_PORT).then_some(server.port),
                    ..Default::default()
                };
                servers.http = (http != ServerHttp::default()).then_some(http);
                notes.push(Note {
                    path: "consulHTTPAddr".into(),
                    kind: NoteKind::Changed,
                    message: format!(
                        "became consulServers.hosts {:?} with HTTP{} on port {}: in v0.10 every \
                         call (registration included) goes to these servers, not only the login",
                        server.host,
                        if server.https { "S" } else { "" },
                        server.port
                    ),
                });
                if let Some(path) = server.path {
                    notes.push(Note {
                        path: "consulHTTPAddr".into(),
                        kind: NoteKind::Decision,
                        message: format!(
                            "the path {path:?} has no v0.10 equivalent (the servers are \
                             reached at their root); put a proxy in front or drop it"
                        ),
                    });
                }
                // v0.6.2 never named the servers' gRPC port: Envoy talked to the local agent.
                let grpc_port = if server.https { 8503 } else { 8502 };
                if !server.https {
                    servers.grpc = Some(ServerGrpc {
                        port: Some(grpc_port),
                        tls: Some(false),
                        ..Default::default()
                    });
                }
                notes.push(Note {
                    path: "consulServers.grpc".into(),
                    kind: NoteKind::Changed,
                    message: format!(
                        "assumed Consul's gRPC port {grpc_port} {} TLS, like the HTTP side: \
                         v0.6.2 never reached the servers over gRPC (Envoy used the local agent)",
                        if server.https { "with" } else { "without" }
                    ),
                });
                if server.https {
                    notes.push(Note {
                        path: "consulServers.defaults".into(),
                        kind: NoteKind::Changed,
                        message: "TLS to the servers is on (the v0.10 default). A CA or server \
                                  name the v0.6.2 tasks took from CONSUL_CACERT or \
                                  CONSUL_TLS_SERVER_NAME belongs in consulServers.defaults \
                                  (caCertFile, tlsServerName); the PEM text can come from \
                                  CONSUL_HTTPS_CACERT_PEM and CONSUL_GRPC_CACERT_PEM"
                            .into(),
                    });
                }
            }
        },
    }
    if let Some(ca_file) = agent.consul_ca_cert_file() {
        servers.defaults = Some(ServerDefaults {
            ca_cert_file: ca_file.to_owned(),
            ..Default::default()
        });
        notes.push(Note {
            path: "consulCACertFile".into(),
            kind: NoteKind::Changed,
            message: "became consulServers.defaults.caCertFile: it now checks the servers for \
                      both HTTPS and gRPC (v0.6.2 used it for the login calls only)"
                .into(),
        });
    }
    servers
}

/// What changes for the login and for tokens.
fn login_notes(agent: &Config, notes: &mut Vec<Note>) {
    if !agent.login_enabled() {
        notes.push(Note {
            path: "consulLogin.enabled".into(),
            kind: NoteKind::Changed,
            message: "login stays off: with ACLs on, mesh-init, health-sync and consul-dataplane \
                      now need a token of their own (CONSUL_HTTP_TOKEN), where v0.6.2 used the \
                      local agent's"
                .into(),
        });
    }
    let service_partition = agent.service.as_ref().and_then(|s| non_empty(&s.partition));
    let gateway_partition = agent.gateway.as_ref().and_then(|g| non_empty(&g.partition));
    if agent.is_gateway() && service_partition.is_some() && service_partition != gateway_partition {
        notes.push(Note {
            path: "service.partition".into(),
            kind: NoteKind::Decision,
            message: format!(
                "v0.6.2 logged this gateway task in to partition {:?} (service.partition); \
                 v0.10 uses gateway.partition ({:?}) for everything: set gateway.partition to \
                 the partition the gateway belongs to",
                service_partition.unwrap_or_default(),
                gateway_partition.unwrap_or("default")
            ),
        });
    }
}

/// `consulHTTPAddr` taken apart as Consul's Go client reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ServerAddress {
    host: String,
    port: u16,
    https: bool,
    /// A path after the address (Consul's client would send requests under it).
    path: Option<String>,
}

impl ServerAddress {
    /// `[http://|https://]host[:port][/path]`; without a port, 80 or 443
    /// (the Go client puts the address into a URL as it is).
    fn parse(address: &str) -> Result<ServerAddress, String> {
        let (https, rest) = match address.split_once("://") {
            None => (false, address),
            Some(("http", rest)) => (false, rest),
            Some(("https", rest)) => (true, rest),
            Some(("unix", _)) => {
                return Err(format!(
                    "{address:?} is a Unix socket of a local agent; v0.10 has no local agent"
                ))
            }
            Some((scheme, _)) => {
                return Err(format!(
                    "{address:?} has the scheme {scheme:?}; only http and https reach the servers"
                ))
            }
        };
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], non_empty(&rest[at..]).filter(|p| *p != "/")),
            None => (rest, None),
        };
        let default_port = if https { 443 } else { 80 };
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            // [IPv6]:port
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| format!("{address:?} has an unclosed '[' in its host"))?;
            match after.strip_prefix(':') {
                Some(port) => (host, parse_port(address, port)?),
                None if after.is_empty() => (host, default_port),
                None => return Err(format!("{address:?} has text after its IPv6 host")),
            }
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) if !host.contains(':') => (host, parse_port(address, port)?),
                Some(_) => (authority, default_port), // a bare IPv6 address
                None => (authority, default_port),
            }
        };
        if host.is_empty() {
            return Err(format!("{address:?} names no host"));
        }
        Ok(ServerAddress {
            host: host.to_owned(),
            port,
            https,
            path: path.map(str::to_owned),
        })
    }
}

fn parse_port(address: &str, port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{address:?} has no usable port ({port:?})")),
        Ok(port) => Ok(port),
    }
}

#[cfg(test)]
mod tests {
    use super::ServerAddress;

    fn parsed(address: &str) -> (String, u16, bool, Option<String>) {
        let a = ServerAddress::parse(address).unwrap_or_else(|e| panic!("{address}: {e}"));
        (a.host, a.port, a.https, a.path)
    }

    #[test]
    fn addresses_read_as_the_go_client_reads_them() {
        assert_eq!(
            parsed("https://consul.example.com:8501"),
            ("consul.example.com".into(), 8501, true, None)
        );
        assert_eq!(
            parsed("10.0.0.5:8500"),
            ("10.0.0.5".into(), 8500, false, None)
        );
        assert_eq!(parsed("http://consul"), ("consul".into(), 80, false, None));
        assert_eq!(
            parsed("https://consul/"),
            ("consul".into(), 443, true, None)
        );
        assert_eq!(
            parsed("https://[fd00::1]:8501"),
            ("fd00::1".into(), 8501, true, None)
        );
        assert_eq!(parsed("fd00::1"), ("fd00::1".into(), 80, false, None));
        assert_eq!(
            parsed("https://lb.example.com:443/consul"),
            ("lb.example.com".into(), 443, true, Some("/consul".into()))
        );
    }

    #[test]
    fn unusable_addresses_say_why() {
        for (address, why) in [
            ("unix:///var/run/consul.sock", "Unix socket"),
            ("ftp://consul", "scheme \"ftp\""),
            ("https://:8501", "names no host"),
            ("consul:http", "no usable port"),
            ("consul:0", "no usable port"),
            ("https://[fd00::1", "unclosed"),
        ] {
            let error = ServerAddress::parse(address).unwrap_err();
            assert!(error.contains(why), "{address}: {error}");
        }
    }
}
