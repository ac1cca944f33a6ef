//! "Consul cannot be reached", said once and usefully: which address, where that address
//! came from, how many attempts failed in which way (refused, name not resolved, timed out,
//! TLS) with the last error of each kind — instead of the same cause repeated per layer.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use consul::{ConsulError, TransportKind};

/// Where a Consul address came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressOrigin {
    /// The config's `consulHTTPAddr`.
    Config,
    /// The `CONSUL_HTTP_ADDR` environment variable (the config had none).
    Env {
        /// Whether the config has a `consulHTTPAddr` field that could have set it: the
        /// server address does, the local agent's does not.
        config_field: bool,
    },
    /// Nothing set it: the Go client's default `127.0.0.1:8500`.
    Default {
        /// As in [`AddressOrigin::Env`].
        config_field: bool,
    },
    /// A server found from the v0.10 config's `consulServers.hosts` (the dataplane layout).
    ConsulServers,
}

impl AddressOrigin {
    /// From what was set: the config's field (`None` when there is no such field or it is
    /// empty) and the environment's `CONSUL_HTTP_ADDR`.
    pub fn derive(config: Option<&str>, config_field: bool, env: Option<&str>) -> AddressOrigin {
        let set = |v: Option<&str>| v.is_some_and(|v| !v.trim().is_empty());
        if config_field && set(config) {
            AddressOrigin::Config
        } else if set(env) {
            AddressOrigin::Env { config_field }
        } else {
            AddressOrigin::Default { config_field }
        }
    }
}

impl fmt::Display for AddressOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddressOrigin::Config => f.write_str("from consulHTTPAddr in the config"),
            AddressOrigin::Env { config_field: true } => {
                f.write_str("from CONSUL_HTTP_ADDR; the config has no consulHTTPAddr")
            }
            AddressOrigin::Env {
                config_field: false,
            } => f.write_str("from CONSUL_HTTP_ADDR"),
            AddressOrigin::Default { config_field: true } => f.write_str(
                "the default: neither consulHTTPAddr in the config nor CONSUL_HTTP_ADDR is set",
            ),
            AddressOrigin::Default {
                config_field: false,
            } => f.write_str("the default: CONSUL_HTTP_ADDR is not set"),
            AddressOrigin::ConsulServers => f.write_str("found from consulServers.hosts"),
        }
    }
}

/// A Consul endpoint a subcommand talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// What it is: `the Consul servers`, `the local Consul agent`.
    pub what: &'static str,
    /// Its base URL.
    pub address: String,
    /// Where the address came from.
    pub origin: AddressOrigin,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {} ({})", self.what, self.address, self.origin)
    }
}

/// The attempts made against one target: per failure kind how many and the last error, and
/// how many got an HTTP answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attempts {
    kinds: BTreeMap<TransportKind, (u32, String)>,
    answered: u32,
}

impl Attempts {
    /// Notes one failed request.
    pub fn record(&mut self, error: &ConsulError) {
        match error {
            ConsulError::Transport { kind, message, .. } => self.record_transport(*kind, message),
            ConsulError::Status { .. } => self.answered += 1,
            _ => {}
        }
    }

    /// Notes one attempt that got no answer: its kind, and the cause to quote (the
    /// [`ConsulError::Transport`] `message`).
    pub fn record_transport(&mut self, kind: TransportKind, cause: &str) {
        let entry = self.kinds.entry(kind).or_insert((0, String::new()));
        entry.0 += 1;
        entry.1 = crate::identity::truncate(cause.trim(), 200);
    }

    /// How many attempts got no answer.
    pub fn unanswered(&self) -> u32 {
        self.kinds.values().map(|(n, _)| n).sum()
    }

    /// `connection refused ×4 (tcp connect error: Connection refused (os error 111)); timed
    /// out ×1 (operation timed out)`; empty when every attempt got an answer.
    pub fn by_kind(&self) -> String {
        self.kinds
            .iter()
            .map(|(kind, (n, last))| format!("{} ×{n} ({last})", kind.words()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The whole report when `target` never answered: `cannot reach the Consul servers at
    /// http://… (from CONSUL_HTTP_ADDR): 4 attempts in 2.9s: connection refused ×4 (…)`.
    /// `None` when some attempt got an answer (then Consul's answer is the story).
    pub fn unreachable(
        &self,
        target: &Target,
        attempts: u32,
        elapsed: Duration,
    ) -> Option<Unreachable> {
        if self.answered > 0 || self.kinds.is_empty() {
            return None;
        }
        let tls = self.kinds.keys().any(|kind| kind.is_tls());
        let hint = if tls && target.origin == AddressOrigin::ConsulServers {
            "check consulServers.http.https and the CA (consulServers.http.caCertFile or \
             defaults.caCertFile, CONSUL_HTTPS_CACERT_PEM) and tlsServerName for this server; \
             `consul-ecs doctor` in the task runs the same checks"
        } else if tls {
            "check the scheme (http/https) and the CA (consulCACertFile, CONSUL_CACERT) for this \
             address; `consul-ecs doctor` in the task runs the same checks"
        } else {
            "check the address and that Consul listens there and is reachable from the task \
             (security groups); `consul-ecs doctor` in the task runs the same checks"
        };
        Some(Unreachable {
            problem: format!(
                "cannot reach {target}: {attempts} attempt{} in {elapsed:.1?}: {}",
                if attempts == 1 { "" } else { "s" },
                self.by_kind()
            ),
            hint: hint.to_string(),
        })
    }
}

/// The report of [`Attempts::unreachable`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// What failed.
    pub problem: String,
    /// What to look at.
    pub hint: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    const REFUSED: &str = "tcp connect error: Connection refused (os error 111)";

    fn target() -> Target {
        Target {
            what: "the Consul servers",
            address: "http://127.0.0.1:1/".into(),
            origin: AddressOrigin::derive(None, true, Some("127.0.0.1:1")),
        }
    }

    #[test]
    fn origins() {
        assert_eq!(
            AddressOrigin::derive(Some("https://c:8501"), true, Some("x")),
            AddressOrigin::Config
        );
        assert_eq!(
            AddressOrigin::derive(Some(""), true, Some("x")).to_string(),
            "from CONSUL_HTTP_ADDR; the config has no consulHTTPAddr"
        );
        assert_eq!(
            AddressOrigin::derive(None, false, None).to_string(),
            "the default: CONSUL_HTTP_ADDR is not set"
        );
    }

    #[test]
    fn the_report_says_each_cause_once() {
        let mut a = Attempts::default();
        for _ in 0..3 {
            a.record_transport(TransportKind::Refused, REFUSED);
        }
        a.record_transport(TransportKind::TimedOut, "operation timed out");
        let r = a
            .unreachable(&target(), 4, Duration::from_millis(2900))
            .unwrap();
        assert_eq!(
            r.problem,
            "cannot reach the Consul servers at http://127.0.0.1:1/ (from CONSUL_HTTP_ADDR; the \
             config has no consulHTTPAddr): 4 attempts in 2.9s: connection refused ×3 (tcp \
             connect error: Connection refused (os error 111)); timed out ×1 (operation timed out)"
        );
        assert_eq!(r.problem.matches("Connection refused").count(), 1);
        // Once Consul answered, it is not "unreachable".
        a.answered += 1;
        assert!(a.unreachable(&target(), 5, Duration::ZERO).is_none());
    }

    #[test]
    fn a_tls_failure_of_any_kind_points_at_the_scheme_and_the_ca() {
        for kind in [
            TransportKind::TlsCertificate,
            TransportKind::TlsName,
            TransportKind::TlsHandshake,
            TransportKind::PlainHttpToTls,
        ] {
            let mut a = Attempts::default();
            a.record(&ConsulError::Transport {
                method: "GET".into(),
                path: "/v1/agent/self".into(),
                kind,
                message: "the cause".into(),
            });
            let r = a.unreachable(&target(), 1, Duration::ZERO).unwrap();
            assert!(
                r.hint.starts_with("check the scheme (http/https)"),
                "{kind:?}"
            );
            assert!(
                r.problem
                    .ends_with(&format!("{} ×1 (the cause)", kind.words())),
                "{}",
                r.problem
            );
        }
        let mut a = Attempts::default();
        a.record_transport(
            TransportKind::NameNotResolved,
            "cannot resolve consul.invalid",
        );
        let r = a.unreachable(&target(), 1, Duration::ZERO).unwrap();
        assert!(r.hint.starts_with("check the address"), "{}", r.hint);
        assert!(r.problem.contains("name not resolved ×1"), "{}", r.problem);
    }
}
