//! Where ACL objects live on Consul Enterprise: an admin partition and a namespace in it
//! (docs/protocols.md §4.0, §5.6, §5.7). Tokens, policies, roles, auth methods and binding
//! rules each belong to one; a request names its scope with the body's `Partition` /
//! `Namespace`, else the `partition=` / `ns=` query, else the `X-Consul-Partition` /
//! `X-Consul-Namespace` header, else `default`. Reads, lists, updates and deletes see only
//! the objects of the request's scope; a token or namespace may also link the policies and
//! roles of its partition's `default` namespace.
//!
//! On CE every object has the empty scope (tenancy parameters are rejected before a
//! handler runs), so nothing is filtered.

use serde_json::{Map, Value};

use super::state::State;
use super::wire::s;
use super::Req;

/// The name of the default partition and of each partition's default namespace.
pub const DEFAULT: &str = "default";

/// A partition and a namespace (both empty on CE).
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope {
    /// Admin partition.
    pub partition: String,
    /// Namespace within it.
    pub namespace: String,
}

impl Scope {
    /// `default`/`default` on Enterprise, empty on CE: where built-in objects live.
    pub(crate) fn builtin(enterprise: bool) -> Scope {
        if enterprise {
            Scope::new(DEFAULT, DEFAULT)
        } else {
            Scope::default()
        }
    }

    /// A scope.
    pub fn new(partition: &str, namespace: &str) -> Scope {
        Scope {
            partition: partition.to_string(),
            namespace: namespace.to_string(),
        }
    }

    /// The scope a request addresses (`body`: its decoded JSON, when the endpoint has
    /// `Partition`/`Namespace` fields).
    pub(crate) fn of_request(st: &State, req: &Req, body: Option<&Value>) -> Scope {
        if !st.opts.enterprise {
            return Scope::default();
        }
        let pick = |field: &str, query: &str, header: &str| -> String {
            let from_body = body.map(|b| s(b, field)).filter(|v| !v.is_empty());
            let from_query = req.query_value(query).filter(|v| !v.is_empty());
            let from_header = req
                .tenancy_headers
                .iter()
                .find(|(name, _)| *name == header)
                .map(|(_, v)| v.as_str());
            from_body
                .or(from_query)
                .or(from_header)
                .unwrap_or(DEFAULT)
                .to_string()
        };
        Scope {
            partition: pick("Partition", "partition", "X-Consul-Partition"),
            namespace: pick("Namespace", "ns", "X-Consul-Namespace"),
        }
    }

    /// Whether the request's `ns=` is the `*` wildcard (every namespace of the partition;
    /// list endpoints only).
    pub(crate) fn wildcard_namespace(req: &Req) -> bool {
        req.query_value("ns") == Some("*")
    }

    /// The default namespace of the same partition (CE: the empty scope).
    pub fn default_namespace(&self) -> Scope {
        if self.partition.is_empty() {
            Scope::default()
        } else {
            Scope::new(&self.partition, DEFAULT)
        }
    }

    /// Whether an object in `self` is visible to a request in `request` (`any_namespace` for
    /// `ns=*` lists).
    pub(crate) fn visible_to(&self, request: &Scope, any_namespace: bool) -> bool {
        self.partition == request.partition
            && (any_namespace || self.namespace == request.namespace)
    }

    /// Whether a token or namespace in `from` may link an object in `self`: the same
    /// scope, or the default namespace of the same partition.
    pub(crate) fn linkable_from(&self, from: &Scope) -> bool {
        self == from || *self == from.default_namespace()
    }

    /// Adds `Namespace` and `Partition` to an object's JSON (Enterprise only).
    pub(crate) fn annotate(&self, obj: &mut Map<String, Value>) {
        if !self.partition.is_empty() {
            obj.insert("Namespace".into(), Value::String(self.namespace.clone()));
            obj.insert("Partition".into(), Value::String(self.partition.clone()));
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.partition.is_empty() {
            Ok(())
        } else {
            write!(
                f,
                " in namespace {} of partition {}",
                self.namespace, self.partition
            )
        }
    }
}
