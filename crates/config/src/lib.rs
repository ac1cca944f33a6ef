//! consul-ecs v0.6.2 configuration: model, defaults and validation with JSON-path errors.
//!
//! mesh-init and health-sync read their settings from the JSON document in
//! [`CONFIG_ENV`]. [`parse`] accepts exactly the documents v0.6.2 accepts,
//! apart from the deliberate deviations listed in docs/config.md §10
//! (ports must be 0..65535, mis-cased keys are refused with a did-you-mean
//! hint, `proxy.expose` is validated, `h2pingUseTLS` is accepted as an alias,
//! a check's `udp` target is kept). Every problem is reported at once, each
//! naming its field by dotted JSON path (`proxy.upstreams.0.localBindPort`).
//!
//! The extra rule mesh-init applies (no `service.checks` together with
//! `healthSyncContainers`) is separate: [`Config::validate_for_mesh_init`].
//!
//! The v0.10 (Consul Dataplane) layout is [`dataplane`]. [`load`] picks the
//! layout by the document's keys ([`Layout::of`]) and returns a
//! [`LoadedConfig`] of either kind; [`parse`] and [`from_env`] stay the
//! v0.6.2 loaders and refuse a v0.10 document with
//! [`ConfigError::DataplaneLayout`]. [`migrate`] turns a v0.6.2 document
//! into its v0.10 equivalent.

#![deny(missing_docs)]

pub mod dataplane;
pub mod migrate;
mod model;
mod schema;

use std::ffi::OsStr;
use std::fmt;

pub use model::*;

/// Environment variable holding the configuration document.
pub const CONFIG_ENV: &str = "CONSUL_ECS_CONFIG_JSON";

/// One problem with one field of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted JSON path of the offending field (`service.checks.1.tlsSkipVerify`);
    /// empty when the whole document is wrong.
    pub path: String,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "(document): {}", self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Why a configuration could not be loaded or used.
///
/// Only [`ConfigError::NotSet`] and [`ConfigError::NotUnicode`] name the
/// variable; the others read the same whether the text came from the
/// variable or from a file, so callers can prefix the source themselves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The variable is unset or empty.
    #[error("{CONFIG_ENV} is not populated: set it to the consul-ecs JSON configuration")]
    NotSet,
    /// The variable holds bytes that are not UTF-8.
    #[error("{CONFIG_ENV} is not valid UTF-8")]
    NotUnicode,
    /// The text is not one JSON value (syntax error, trailing bytes, BOM...).
    #[error("configuration is not valid JSON: line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What is wrong there.
        message: String,
    },
    /// The JSON is well-formed but breaks the configuration rules.
    #[error("{}", render_invalid(.0))]
    Invalid(Vec<FieldError>),
    /// A v0.10 (Consul Dataplane) document was given to a loader of the
    /// v0.6.2 layout only ([`parse`], [`from_env`]): a caller that takes
    /// either layout uses [`load`] (or [`load_from_env_value`]). Every
    /// subcommand of the binary takes the layouts it serves; only a library
    /// caller meets this.
    #[error(
        "this is a v0.10 (Consul Dataplane) config (it has `consulServers`), given to the v0.6.2 \
         parser: use the layout-aware entry point (config::load / config::load_from_env_value) \
         to take either layout"
    )]
    DataplaneLayout,
}

impl ConfigError {
    /// The field problems, when this is [`ConfigError::Invalid`].
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            ConfigError::Invalid(errors) => errors,
            _ => &[],
        }
    }
}

fn render_invalid(errors: &[FieldError]) -> String {
    let mut out = format!(
        "configuration is invalid ({} problem{}):",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    for error in errors {
        out.push_str("\n  ");
        out.push_str(&error.to_string());
    }
    out
}

/// Loads the configuration from [`CONFIG_ENV`].
pub fn from_env() -> Result<Config, ConfigError> {
    from_env_value(std::env::var_os(CONFIG_ENV).as_deref())
}

/// Loads the configuration from a value read from [`CONFIG_ENV`] (`None`
/// when unset); split out from [`from_env`] so it is testable without
/// touching the process environment.
pub fn from_env_value(value: Option<&OsStr>) -> Result<Config, ConfigError> {
    parse(env_text(value)?)
}

/// The text of a value read from [`CONFIG_ENV`] (`None` when unset), or
/// why there is none ([`ConfigError::NotSet`], [`ConfigError::NotUnicode`]).
pub fn env_text(value: Option<&OsStr>) -> Result<&str, ConfigError> {
    let value = value.ok_or(ConfigError::NotSet)?;
    if value.is_empty() {
        return Err(ConfigError::NotSet);
    }
    value.to_str().ok_or(ConfigError::NotUnicode)
}

/// Parses and validates a v0.6.2 configuration document.
///
/// White space around the object is fine; anything else after it, and a
/// leading byte-order mark, are rejected (as in v0.6.2). With duplicate keys
/// the last one wins. A v0.10 document (one with `consulServers`) is refused
/// with [`ConfigError::DataplaneLayout`], one that mixes the two layouts with
/// the keys that clash.
pub fn parse(text: &str) -> Result<Config, ConfigError> {
    match load(text)? {
        LoadedConfig::Agent(config) => Ok(config),
        LoadedConfig::Dataplane(_) => Err(ConfigError::DataplaneLayout),
    }
}

/// The two configuration layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// consul-ecs v0.6.2: a Consul client agent in every task.
    Agent,
    /// consul-ecs v0.10: no agent; the task talks to `consulServers`.
    Dataplane,
}

/// Keys only the v0.6.2 layout has, by JSON path.
const AGENT_ONLY_KEYS: [&str; 3] = ["consulHTTPAddr", "consulCACertFile", "service.checks"];

impl Layout {
    /// Picks the layout of a parsed document: `consulServers` means v0.10;
    /// otherwise (`consulHTTPAddr`, `service.checks`, or neither) v0.6.2. A
    /// document with `consulServers` and a v0.6.2-only key is refused, naming
    /// each of those keys.
    pub fn of(doc: &serde_json::Value) -> Result<Layout, ConfigError> {
        if doc.get("consulServers").is_none() {
            return Ok(Layout::Agent);
        }
        let agent_keys: Vec<&str> = AGENT_ONLY_KEYS
            .into_iter()
            .filter(|path| lookup(doc, path).is_some())
            .collect();
        if agent_keys.is_empty() {
            return Ok(Layout::Dataplane);
        }
        let mut errors = vec![FieldError {
            path: "consulServers".into(),
            message: format!(
                "makes this a v0.10 (Consul Dataplane) config, which has no {}; keep one layout \
                 (`consul-ecs migrate-config` turns a v0.6.2 config into a v0.10 one)",
                agent_keys.join(", ")
            ),
        }];
        errors.extend(agent_keys.iter().map(|path| {
            FieldError {
                path: (*path).into(),
                message: "is a v0.6.2 (agent) key, but `consulServers` makes this a v0.10 \
                      (Consul Dataplane) config"
                    .into(),
            }
        }));
        Err(ConfigError::Invalid(errors))
    }

    /// How the layout is named to people.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::Agent => "v0.6.2 (Consul client agent)",
            Layout::Dataplane => "v0.10 (Consul Dataplane)",
        }
    }
}

/// The value at a dotted path of object keys.
fn lookup<'a>(doc: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').try_fold(doc, |value, key| value.get(key))
}

/// A configuration of either layout.
// One is loaded per process and handed on once: boxing would only add an
// indirection to every use.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum LoadedConfig {
    /// A v0.6.2 (client agent) configuration.
    Agent(Config),
    /// A v0.10 (Consul Dataplane) configuration.
    Dataplane(dataplane::Config),
}

impl LoadedConfig {
    /// Which layout this is.
    pub fn layout(&self) -> Layout {
        match self {
            LoadedConfig::Agent(_) => Layout::Agent,
            LoadedConfig::Dataplane(_) => Layout::Dataplane,
        }
    }
}

/// Parses a document of either layout, chosen by [`Layout::of`], and
/// validates it against that layout's rules.
pub fn load(text: &str) -> Result<LoadedConfig, ConfigError> {
    let doc = parse_json(text)?;
    match Layout::of(&doc)? {
        Layout::Agent => {
            let cleaned = schema::validate(&doc).map_err(ConfigError::Invalid)?;
            decode_cleaned(cleaned).map(LoadedConfig::Agent)
        }
        Layout::Dataplane => dataplane::from_value(&doc).map(LoadedConfig::Dataplane),
    }
}

/// Loads a document of either layout from [`CONFIG_ENV`].
pub fn load_from_env() -> Result<LoadedConfig, ConfigError> {
    load_from_env_value(std::env::var_os(CONFIG_ENV).as_deref())
}

/// [`load_from_env`] for a value read from [`CONFIG_ENV`] (`None` when unset).
pub fn load_from_env_value(value: Option<&OsStr>) -> Result<LoadedConfig, ConfigError> {
    load(env_text(value)?)
}

/// Parses the JSON text (no BOM, one value, white space around it only).
pub(crate) fn parse_json(text: &str) -> Result<serde_json::Value, ConfigError> {
    if text.starts_with('\u{feff}') {
        return Err(ConfigError::Json {
            line: 1,
            column: 1,
            message: "leading byte-order mark (U+FEFF) is not allowed; save the JSON without a BOM"
                .into(),
        });
    }
    serde_json::from_str(text).map_err(json_error)
}

/// Decodes a document the schema walk cleaned into the typed model.
pub(crate) fn decode_cleaned<T: serde::de::DeserializeOwned>(
    cleaned: serde_json::Value,
) -> Result<T, ConfigError> {
    // The cleaned document has only known keys of the right types, so this
    // cannot fail unless the schema table and the model disagree.
    serde_json::from_value(cleaned).map_err(|e| {
        ConfigError::Invalid(vec![FieldError {
            path: String::new(),
            message: format!("internal error: validated config did not decode: {e}"),
        }])
    })
}

/// Turns a serde_json syntax error into [`ConfigError::Json`], dropping the
/// " at line L column C" suffix serde_json appends since we report those apart.
fn json_error(error: serde_json::Error) -> ConfigError {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text).to_owned();
    ConfigError::Json {
        line: error.line(),
        column: error.column(),
        message,
    }
}

impl Config {
    /// The rule mesh-init adds after loading: a service task must not have
    /// both `service.checks` and `healthSyncContainers` non-empty (health-sync
    /// does not apply it). Both fields are named in the error.
    pub fn validate_for_mesh_init(&self) -> Result<(), ConfigError> {
        let has_checks = self.service.as_ref().is_some_and(|s| !s.checks.is_empty());
        if self.is_gateway() || !has_checks || self.health_sync_containers.is_empty() {
            return Ok(());
        }
        // v0.6.2's wording, split so that each field is named by its path.
        let message = "only one of service.checks or healthSyncContainers should be set \
                       (define checks in Consul or sync ECS container health, not both)";
        Err(ConfigError::Invalid(vec![
            FieldError {
                path: "service.checks".into(),
                message: message.into(),
            },
            FieldError {
                path: "healthSyncContainers".into(),
                message: message.into(),
            },
        ]))
    }
}
