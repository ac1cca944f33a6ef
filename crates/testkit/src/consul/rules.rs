//! ACL policy rules (the HCL/JSON subset the tests and consul-ecs use) and the authorizer
//! that answers "may this token do X on Y", with Consul's precedence: within one token,
//! `deny` beats `write` beats `read` for the same rule; an exact rule beats any prefix rule,
//! and the longest prefix wins; no rule means deny (default policy `deny`).

use std::collections::HashMap;

/// An access level granted by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    Deny,
    Read,
    Write,
}

impl Access {
    fn parse(text: &str) -> Result<Access, String> {
        match text {
            "deny" => Ok(Access::Deny),
            "read" | "list" => Ok(Access::Read),
            "write" => Ok(Access::Write),
            other => Err(format!("Invalid policy: {other:?}")),
        }
    }
    fn rank(self) -> u8 {
        match self {
            Access::Read => 1,
            Access::Write => 2,
            Access::Deny => 3,
        }
    }
    /// Merges two grants for the same rule (deny wins, then write).
    fn merge(self, other: Access) -> Access {
        if other.rank() > self.rank() {
            other
        } else {
            self
        }
    }
    fn allows(self, need: Access) -> bool {
        match self {
            Access::Deny => false,
            Access::Read => need == Access::Read,
            Access::Write => true,
        }
    }
    /// The permission word in error messages.
    pub fn word(self) -> &'static str {
        match self {
            Access::Deny => "deny",
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// Exact and prefix rules for one resource type (`service`, `node`, `agent`).
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleSet {
    exact: HashMap<String, Access>,
    prefix: HashMap<String, Access>,
}

impl RuleSet {
    fn add_exact(&mut self, name: &str, access: Access) {
        let e = self.exact.entry(name.to_string()).or_insert(access);
        *e = e.merge(access);
    }
    fn add_prefix(&mut self, name: &str, access: Access) {
        let e = self.prefix.entry(name.to_string()).or_insert(access);
        *e = e.merge(access);
    }
    fn lookup(&self, name: &str) -> Option<Access> {
        if let Some(a) = self.exact.get(name) {
            return Some(*a);
        }
        self.prefix
            .iter()
            .filter(|(p, _)| name.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, a)| *a)
    }
}

/// Parsed rules of one policy, before merging into an authorizer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rules {
    entries: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    /// `service`, `service_prefix`, `node`, `acl`, `operator`, …
    kind: String,
    label: Option<String>,
    access: Access,
}

/// Resource types with a name (`service "x" { policy = … }`).
const NAMED: &[&str] = &[
    "service", "node", "agent", "key", "session", "event", "query", "identity",
];
/// Resource types without a name (`acl = "write"`).
const GLOBAL: &[&str] = &["acl", "operator", "mesh", "peering", "keyring"];
/// Enterprise scoping blocks whose contents we apply as if at top level.
const SCOPES: &[&str] = &[
    "partition",
    "partition_prefix",
    "namespace",
    "namespace_prefix",
];

impl Rules {
    /// Parses HCL (or JSON) rules text.
    pub fn parse(text: &str) -> Result<Rules, String> {
        let trimmed = text.trim();
        let nodes = if trimmed.starts_with('{') {
            let value: serde_json::Value =
                serde_json::from_str(trimmed).map_err(|e| format!("invalid JSON rules: {e}"))?;
            json_nodes(&value)?
        } else {
            let tokens = tokenize(text)?;
            let mut pos = 0;
            let nodes = parse_body(&tokens, &mut pos)?;
            if pos != tokens.len() {
                return Err(format!("unexpected token {:?}", tokens[pos]));
            }
            nodes
        };
        let mut rules = Rules::default();
        collect(&nodes, &mut rules)?;
        Ok(rules)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Eq,
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() || c == ',' {
            i += 1;
        } else if c == '#' || (c == '/' && chars.get(i + 1) == Some(&'/')) {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == '=' || c == ':' {
            out.push(Tok::Eq);
            i += 1;
        } else if c == '{' {
            out.push(Tok::Open);
            i += 1;
        } else if c == '}' {
            out.push(Tok::Close);
            i += 1;
        } else if c == '"' {
            let mut s = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("unterminated string".to_string()),
                    Some('"') => break,
                    Some('\\') => {
                        if let Some(n) = chars.get(i + 1) {
                            s.push(*n);
                        }
                        i += 2;
                    }
                    Some(ch) => {
                        s.push(*ch);
                        i += 1;
                    }
                }
            }
            i += 1;
            out.push(Tok::Str(s));
        } else if c.is_alphanumeric() || c == '_' || c == '-' || c == '.' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '-' | '.'))
            {
                i += 1;
            }
            out.push(Tok::Ident(chars[start..i].iter().collect()));
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

#[derive(Debug)]
enum Node {
    Attr(String, String),
    Block(String, Option<String>, Vec<Node>),
}

fn parse_body(tokens: &[Tok], pos: &mut usize) -> Result<Vec<Node>, String> {
    let mut nodes = Vec::new();
    while let Some(tok) = tokens.get(*pos) {
        let key = match tok {
            Tok::Close => break,
            Tok::Ident(k) | Tok::Str(k) => k.clone(),
            other => return Err(format!("unexpected token {other:?}")),
        };
        *pos += 1;
        let label = match tokens.get(*pos) {
            Some(Tok::Str(l)) => {
                *pos += 1;
                Some(l.clone())
            }
            _ => None,
        };
        match tokens.get(*pos) {
            Some(Tok::Eq) if label.is_none() => {
                *pos += 1;
                match tokens.get(*pos) {
                    Some(Tok::Str(v)) | Some(Tok::Ident(v)) => {
                        nodes.push(Node::Attr(key, v.clone()));
                        *pos += 1;
                    }
                    Some(Tok::Open) => {
                        // `key = { … }` is the same as a block without a label.
                        *pos += 1;
                        let inner = parse_body(tokens, pos)?;
                        expect_close(tokens, pos)?;
                        nodes.push(Node::Block(key, None, inner));
                    }
                    other => return Err(format!("expected a value after {key:?}, got {other:?}")),
                }
            }
            Some(Tok::Open) => {
                *pos += 1;
                let inner = parse_body(tokens, pos)?;
                expect_close(tokens, pos)?;
                nodes.push(Node::Block(key, label, inner));
            }
            other => return Err(format!("expected '=' or '{{' after {key:?}, got {other:?}")),
        }
    }
    Ok(nodes)
}

fn expect_close(tokens: &[Tok], pos: &mut usize) -> Result<(), String> {
    if tokens.get(*pos) == Some(&Tok::Close) {
        *pos += 1;
        Ok(())
    } else {
        Err("missing '}'".to_string())
    }
}

/// JSON rules: `{"service": {"web": {"policy": "write"}}, "acl": "read"}`.
fn json_nodes(value: &serde_json::Value) -> Result<Vec<Node>, String> {
    let obj = value
        .as_object()
        .ok_or_else(|| "rules must be an object".to_string())?;
    let mut nodes = Vec::new();
    for (key, v) in obj {
        match v {
            serde_json::Value::String(s) => nodes.push(Node::Attr(key.clone(), s.clone())),
            serde_json::Value::Object(labels)
                if NAMED.iter().any(|n| key.starts_with(n)) || SCOPES.contains(&key.as_str()) =>
            {
                for (label, body) in labels {
                    nodes.push(Node::Block(
                        key.clone(),
                        Some(label.clone()),
                        json_nodes(body)?,
                    ));
                }
            }
            serde_json::Value::Object(_) => {
                nodes.push(Node::Block(key.clone(), None, json_nodes(v)?))
            }
            other => return Err(format!("unexpected value for {key:?}: {other}")),
        }
    }
    Ok(nodes)
}

fn collect(nodes: &[Node], rules: &mut Rules) -> Result<(), String> {
    for node in nodes {
        match node {
            Node::Attr(key, value) if GLOBAL.contains(&key.as_str()) => rules.entries.push(Rule {
                kind: key.clone(),
                label: None,
                access: Access::parse(value)?,
            }),
            Node::Attr(key, _) => return Err(format!("unknown rule {key:?}")),
            Node::Block(key, _, inner) if SCOPES.contains(&key.as_str()) => collect(inner, rules)?,
            Node::Block(key, label, inner) => {
                let base = key.strip_suffix("_prefix").unwrap_or(key);
                if !NAMED.contains(&base) {
                    return Err(format!("unknown rule {key:?}"));
                }
                let label = label
                    .clone()
                    .ok_or_else(|| format!("{key:?} needs a name"))?;
                for attr in inner {
                    match attr {
                        Node::Attr(k, v) if k == "policy" => rules.entries.push(Rule {
                            kind: key.clone(),
                            label: Some(label.clone()),
                            access: Access::parse(v)?,
                        }),
                        // intentions = "…" and similar sub-rules are accepted but unused.
                        Node::Attr(_, _) => {}
                        Node::Block(k, _, _) => {
                            return Err(format!("unexpected block {k:?} in {key:?}"))
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// What a token may do. Built from its policies, roles and identities.
#[derive(Debug, Clone, Default)]
pub(crate) struct Authorizer {
    /// Holds `global-management` (or ACLs are disabled): everything allowed.
    pub management: bool,
    service: RuleSet,
    node: RuleSet,
    agent: RuleSet,
    global: HashMap<String, Access>,
}

impl Authorizer {
    /// Allows everything (ACLs disabled or a management token).
    pub fn allow_all() -> Authorizer {
        Authorizer {
            management: true,
            ..Authorizer::default()
        }
    }

    /// Adds the rules of one policy.
    pub fn add(&mut self, rules: &Rules) {
        for rule in &rules.entries {
            self.add_one(&rule.kind, rule.label.as_deref(), rule.access);
        }
    }

    /// Adds one rule built in code.
    pub fn add_rule(&mut self, kind: &str, label: Option<&str>, access: Access) {
        self.add_one(kind, label, access);
    }

    fn add_one(&mut self, kind: &str, label: Option<&str>, access: Access) {
        let (base, is_prefix) = match kind.strip_suffix("_prefix") {
            Some(base) => (base, true),
            None => (kind, false),
        };
        let set = match base {
            "service" => &mut self.service,
            "node" => &mut self.node,
            "agent" => &mut self.agent,
            other => {
                if label.is_none() {
                    let e = self.global.entry(other.to_string()).or_insert(access);
                    *e = e.merge(access);
                }
                return;
            }
        };
        let label = label.unwrap_or("");
        if is_prefix {
            set.add_prefix(label, access);
        } else {
            set.add_exact(label, access);
        }
    }

    /// May the token access resource `kind` (`service`, `node`, `agent`) named `name`?
    pub fn allowed(&self, kind: &str, name: &str, need: Access) -> bool {
        if self.management {
            return true;
        }
        let set = match kind {
            "service" => &self.service,
            "node" => &self.node,
            "agent" => &self.agent,
            _ => return false,
        };
        set.lookup(name).is_some_and(|a| a.allows(need))
    }

    /// May the token use the unnamed resource `kind` (`acl`, `operator`, `mesh`)?
    pub fn allowed_global(&self, kind: &str, need: Access) -> bool {
        if self.management {
            return true;
        }
        let granted = self.global.get(kind).copied();
        // mesh falls back to operator, as in Consul.
        let granted = match (granted, kind) {
            (None, "mesh") => self.global.get("operator").copied(),
            (g, _) => g,
        };
        granted.is_some_and(|a| a.allows(need))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hcl_rules_parse_and_resolve_with_consul_precedence() {
        let rules = Rules::parse(
            r#"
            # comment
            service "web" { policy = "write" }
            service_prefix "" { policy = "read" }
            service_prefix "db" { policy = "deny" }
            node_prefix "" { policy = "read" }
            agent_prefix "" { policy = "read" }
            acl = "write"
            "#,
        )
        .unwrap();
        let mut a = Authorizer::default();
        a.add(&rules);
        assert!(a.allowed("service", "web", Access::Write));
        assert!(a.allowed("service", "api", Access::Read));
        assert!(!a.allowed("service", "api", Access::Write));
        assert!(!a.allowed("service", "db-1", Access::Read));
        assert!(a.allowed("agent", "node-1", Access::Read));
        assert!(!a.allowed("agent", "node-1", Access::Write));
        assert!(a.allowed_global("acl", Access::Write));
        assert!(!a.allowed_global("operator", Access::Read));
    }

    #[test]
    fn deny_wins_when_policies_overlap() {
        let mut a = Authorizer::default();
        a.add(&Rules::parse(r#"service "web" { policy = "write" }"#).unwrap());
        a.add(&Rules::parse(r#"service "web" { policy = "deny" }"#).unwrap());
        assert!(!a.allowed("service", "web", Access::Read));
    }

    #[test]
    fn json_rules_and_errors() {
        let mut a = Authorizer::default();
        a.add(
            &Rules::parse(r#"{"service": {"web": {"policy": "read"}}, "operator": "write"}"#)
                .unwrap(),
        );
        assert!(a.allowed("service", "web", Access::Read));
        assert!(a.allowed_global("mesh", Access::Write));
        assert!(Rules::parse(r#"service "web" { policy = "admin" }"#).is_err());
        assert!(Rules::parse(r#"bogus "x" { policy = "read" }"#).is_err());
        assert!(Rules::parse(r#"service "web" { policy = "read" "#).is_err());
    }
}
