//! What the task did to Consul, as differences between two snapshots of the emulator's
//! agent (or catalog) services, checks and ACL tokens. Token secrets never enter a snapshot: tokens are
//! named by a prefix of their public accessor ID.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;
use testkit::consul::{ConsulEmulator, Token};

/// A check as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckView {
    /// The check's name (`consul ecs synced`, `Proxy Public Listener`, ...).
    pub name: String,
    /// `passing`, `warning` or `critical`.
    pub status: String,
    /// The check's output text (health-sync writes why it chose the status).
    pub output: String,
}

/// The part of Consul's state the task changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsulSnapshot {
    /// Agent services by ID, each summarised in one line.
    pub services: BTreeMap<String, String>,
    /// Agent checks by ID.
    pub checks: BTreeMap<String, CheckView>,
    /// ACL tokens by accessor ID, each summarised in one line (never the secret).
    pub tokens: BTreeMap<String, String>,
}

/// One difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A service (or sidecar proxy) appeared on the agent.
    ServiceRegistered { id: String, summary: String },
    /// A service left the agent.
    ServiceDeregistered { id: String },
    /// A check appeared.
    CheckRegistered { id: String, check: CheckView },
    /// A check's status changed.
    CheckStatus {
        id: String,
        from: String,
        to: String,
        output: String,
    },
    /// A check disappeared.
    CheckRemoved { id: String },
    /// A token was created (login).
    TokenCreated { accessor: String, summary: String },
    /// A token was deleted (logout).
    TokenDeleted { accessor: String, summary: String },
}

impl Change {
    /// Whether this is a check status change (only health-sync makes those).
    pub fn is_check_status(&self) -> bool {
        matches!(self, Change::CheckStatus { .. })
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::ServiceRegistered { id, summary } => {
                write!(f, "Consul: registered {id} ({summary})")
            }
            Change::ServiceDeregistered { id } => write!(f, "Consul: deregistered {id}"),
            Change::CheckRegistered { id, check } => write!(
                f,
                "Consul: check {id} \"{}\" registered, {}",
                check.name, check.status
            ),
            Change::CheckStatus {
                id,
                from,
                to,
                output,
            } => {
                write!(f, "Consul: check {id}: {from} -> {to}")?;
                if !output.is_empty() {
                    write!(f, "\n  output: {output}")?;
                }
                Ok(())
            }
            Change::CheckRemoved { id } => write!(f, "Consul: check {id} removed"),
            Change::TokenCreated { accessor, summary } => {
                write!(f, "Consul: token {} created ({summary})", short(accessor))
            }
            Change::TokenDeleted { accessor, summary } => {
                write!(f, "Consul: token {} deleted ({summary})", short(accessor))
            }
        }
    }
}

/// The first 8 characters of an accessor ID: enough to tell tokens apart in a timeline.
fn short(accessor: &str) -> &str {
    accessor.get(..8).unwrap_or(accessor)
}

impl ConsulSnapshot {
    /// Reads the emulator's current state.
    pub fn take(consul: &ConsulEmulator) -> ConsulSnapshot {
        // The agent layout registers on the agent, the dataplane layout in the catalog;
        // a task uses one of them, so the two never share an ID.
        let mut services = consul.services();
        services.extend(consul.catalog_services());
        let mut checks = consul.checks();
        checks.extend(consul.catalog_checks());
        ConsulSnapshot::from_parts(&services, &checks, &consul.tokens())
    }

    /// Builds a snapshot from the emulator's JSON views and tokens.
    pub fn from_parts(
        services: &BTreeMap<String, Value>,
        checks: &BTreeMap<String, Value>,
        tokens: &[Token],
    ) -> ConsulSnapshot {
        ConsulSnapshot {
            services: services
                .iter()
                .map(|(id, s)| (id.clone(), service_summary(s)))
                .collect(),
            checks: checks
                .iter()
                .map(|(id, c)| {
                    let text = |k: &str| c[k].as_str().unwrap_or_default().to_string();
                    (
                        id.clone(),
                        CheckView {
                            name: text("Name"),
                            status: text("Status"),
                            output: text("Output"),
                        },
                    )
                })
                .collect(),
            tokens: tokens
                .iter()
                .map(|t| (t.accessor_id.clone(), token_summary(t)))
                .collect(),
        }
    }

    /// What changed from `before` to `self`, in a stable order: services, checks, tokens.
    pub fn changes_since(&self, before: &ConsulSnapshot) -> Vec<Change> {
        let mut changes = Vec::new();
        for (id, summary) in &self.services {
            if !before.services.contains_key(id) {
                changes.push(Change::ServiceRegistered {
                    id: id.clone(),
                    summary: summary.clone(),
                });
            }
        }
        for id in before.services.keys() {
            if !self.services.contains_key(id) {
                changes.push(Change::ServiceDeregistered { id: id.clone() });
            }
        }
        for (id, check) in &self.checks {
            match before.checks.get(id) {
                None => changes.push(Change::CheckRegistered {
                    id: id.clone(),
                    check: check.clone(),
                }),
                Some(old) if old.status != check.status => changes.push(Change::CheckStatus {
                    id: id.clone(),
                    from: old.status.clone(),
                    to: check.status.clone(),
                    output: check.output.clone(),
                }),
                Some(_) => {}
            }
        }
        for id in before.checks.keys() {
            if !self.checks.contains_key(id) {
                changes.push(Change::CheckRemoved { id: id.clone() });
            }
        }
        for (accessor, summary) in &self.tokens {
            if !before.tokens.contains_key(accessor) {
                changes.push(Change::TokenCreated {
                    accessor: accessor.clone(),
                    summary: summary.clone(),
                });
            }
        }
        for (accessor, summary) in &before.tokens {
            if !self.tokens.contains_key(accessor) {
                changes.push(Change::TokenDeleted {
                    accessor: accessor.clone(),
                    summary: summary.clone(),
                });
            }
        }
        changes
    }
}

fn service_summary(s: &Value) -> String {
    let kind = s["Kind"].as_str().filter(|k| !k.is_empty());
    let name = s["Service"].as_str().unwrap_or("?");
    let port = s["Port"].as_u64().unwrap_or(0);
    match kind {
        Some(kind) => format!("{kind} {name}, port {port}"),
        None => format!("service {name}, port {port}"),
    }
}

fn token_summary(t: &Token) -> String {
    let mut parts = Vec::new();
    if !t.auth_method.is_empty() {
        parts.push(format!("login via {}", t.auth_method));
    }
    for s in &t.service_identities {
        parts.push(format!("service identity {}", s.service_name));
    }
    for n in &t.node_identities {
        parts.push(format!("node identity {}", n.node_name));
    }
    for r in &t.roles {
        parts.push(format!("role {}", r.name));
    }
    for p in &t.policies {
        parts.push(format!("policy {}", p.name));
    }
    if parts.is_empty() {
        parts.push(t.description.clone());
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot(services: Value, checks: Value) -> ConsulSnapshot {
        let map = |v: Value| -> BTreeMap<String, Value> {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        ConsulSnapshot::from_parts(&map(services), &map(checks), &[])
    }

    #[test]
    fn registrations_and_status_changes_are_reported() {
        let before = snapshot(
            json!({}),
            json!({"c1": {"Name": "consul ecs synced", "Status": "critical", "Output": ""}}),
        );
        let after = snapshot(
            json!({"web-1": {"Service": "web", "Port": 9090},
                   "web-1-sidecar-proxy": {"Kind": "connect-proxy", "Service": "web-sidecar-proxy", "Port": 20000}}),
            json!({"c1": {"Name": "consul ecs synced", "Status": "passing", "Output": "ok"}}),
        );
        let changes: Vec<String> = after
            .changes_since(&before)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            changes,
            [
                "Consul: registered web-1 (service web, port 9090)",
                "Consul: registered web-1-sidecar-proxy (connect-proxy web-sidecar-proxy, port 20000)",
                "Consul: check c1: critical -> passing\n  output: ok",
            ]
        );
        assert!(after.changes_since(&after).is_empty());
        let back: Vec<Change> = before.changes_since(&after);
        assert_eq!(back.len(), 3, "{back:?}");
        assert!(matches!(&back[0], Change::ServiceDeregistered { id } if id == "web-1"));
    }

    #[test]
    fn tokens_are_named_by_accessor_prefix_never_by_secret() {
        let consul = ConsulEmulator::start(testkit::consul::EmulatorOptions {
            acls_enabled: true,
            ..Default::default()
        });
        let before = ConsulSnapshot::take(&consul);
        let token = consul.create_service_token("web");
        let after = ConsulSnapshot::take(&consul);
        let changes = after.changes_since(&before);
        assert_eq!(changes.len(), 1, "{changes:?}");
        let text = changes[0].to_string();
        assert_eq!(
            text,
            format!(
                "Consul: token {} created (service identity web)",
                &token.accessor_id[..8]
            )
        );
        assert!(!text.contains(&token.secret_id));
        assert!(!format!("{after:?}").contains(&token.secret_id));
    }
}
