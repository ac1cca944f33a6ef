//! Validation of the raw JSON document against the v0.6.2 rules (the tables
//! here) and, with the same walk, the v0.10 rules (`crate::dataplane::schema`).
//!
//! v0.6.2 validates in two steps: a JSON-schema check that gathers every
//! violation, then Go's `encoding/json` decoding that stops at the first
//! problem. We fold both into one walk over the `serde_json::Value`, so every
//! problem (schema-stage or decode-stage) is reported at once with its JSON
//! path. The walk also produces a cleaned copy of the document (nulls on
//! known fields removed, unknown-but-allowed keys dropped, aliases renamed to
//! their canonical spelling), which the typed decoding then reads.
//!
//! The schema is a static table below rather than code, so the allowed keys,
//! types, nullability and required-ness of every block can be read in one
//! place and compared against docs/config.md.

use serde_json::{Map, Number, Value};

use crate::FieldError;

/// What a value must look like.
#[derive(Clone, Copy)]
pub(crate) enum Ty {
    /// Any string.
    Str,
    /// A string of at least one character (`minLength: 1`).
    NonEmptyStr,
    /// One of a fixed set of strings (exact case).
    Enum(&'static [&'static str]),
    /// A service or gateway name: empty, or the lower-case name pattern.
    Name,
    /// A real JSON boolean.
    Bool,
    /// A JSON integer that fits Go's 64-bit `int` (no `8080.0`).
    Int,
    /// An integer in 0..=65535 (deliberately stricter than v0.6.2).
    Port,
    /// An integer within inclusive bounds (`minimum` / `maximum` in the schema).
    Range(i64, i64),
    /// A block with a known set of fields.
    Obj(&'static ObjSpec),
    /// Any JSON object, kept verbatim (opaque proxy config).
    Opaque,
    /// An object whose values are all strings (meta maps).
    StrMap,
    /// An object whose values are arrays of strings (HTTP check headers).
    Headers,
    /// An array of items of the given type; `true` demands unique items.
    Array(&'static Ty, bool),
}

/// What happens to keys a block does not know.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extra {
    /// `additionalProperties: false` in the v0.6.2 schema.
    Forbid,
    /// v0.6.2's schema has no extra-key rule here: unknown keys are dropped.
    Ignore,
}

/// One known key of a block.
pub(crate) struct Field {
    pub(crate) name: &'static str,
    pub(crate) ty: Ty,
    pub(crate) nullable: bool,
    pub(crate) required: bool,
}

/// The known keys of a block and its policy for the rest.
pub(crate) struct ObjSpec {
    pub(crate) fields: &'static [Field],
    pub(crate) extra: Extra,
    /// Alternative spellings accepted for a field: (alias, canonical name).
    pub(crate) aliases: &'static [(&'static str, &'static str)],
}

/// An optional key whose value may also be `null` ("not set").
pub(crate) const fn opt(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        nullable: true,
        required: false,
    }
}

/// An optional key that, when present, must not be `null`.
pub(crate) const fn plain(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        nullable: false,
        required: false,
    }
}

/// A required key that must not be `null`.
pub(crate) const fn req(name: &'static str, ty: Ty) -> Field {
    Field {
        name,
        ty,
        nullable: false,
        required: true,
    }
}

pub(crate) const LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR"];
const CHECK_STATUSES: &[&str] = &["passing", "warning", "critical", "maintenance"];
const MESH_GATEWAY_MODES: &[&str] = &["none", "local", "remote"];
pub(crate) const DESTINATION_TYPES: &[&str] = &["service", "prepared_query"];
const EXPOSE_PROTOCOLS: &[&str] = &["http", "http2"];
const GATEWAY_KINDS: &[&str] = &["mesh-gateway"];

/// The whole document.
pub(crate) static ROOT: ObjSpec = ObjSpec {
    fields: &[
        req("bootstrapDir", Ty::NonEmptyStr),
        opt("logLevel", Ty::Enum(LOG_LEVELS)),
        opt("consulHTTPAddr", Ty::Str),
        opt("consulCACertFile", Ty::Str),
        opt("consulLogin", Ty::Obj(&LOGIN)),
        opt("healthSyncContainers", Ty::Array(&Ty::Str, true)),
        plain("service", Ty::Obj(&SERVICE)),
        opt("proxy", Ty::Obj(&PROXY)),
        plain("gateway", Ty::Obj(&GATEWAY)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static LOGIN: ObjSpec = ObjSpec {
    fields: &[
        opt("enabled", Ty::Bool),
        opt("method", Ty::Str),
        opt("includeEntity", Ty::Bool),
        opt("meta", Ty::StrMap),
        opt("region", Ty::Str),
        opt("stsEndpoint", Ty::Str),
        opt("serverIdHeaderValue", Ty::Str),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

static SERVICE: ObjSpec = ObjSpec {
    fields: &[
        opt("name", Ty::Name),
        opt("tags", Ty::Array(&Ty::Str, true)),
        req("port", Ty::Port),
        opt("enableTagOverride", Ty::Bool),
        opt("meta", Ty::StrMap),
        opt("weights", Ty::Obj(&WEIGHTS)),
        opt("checks", Ty::Array(&Ty::Obj(&CHECK), false)),
        opt("namespace", Ty::Str),
        opt("partition", Ty::Str),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

pub(crate) static WEIGHTS: ObjSpec = ObjSpec {
    fields: &[req("passing", Ty::Int), req("warning", Ty::Int)],
    extra: Extra::Forbid,
    aliases: &[],
};

static CHECK: ObjSpec = ObjSpec {
    fields: &[
        opt("checkId", Ty::Str),
        plain("name", Ty::Str),
        opt("args", Ty::Array(&Ty::Str, false)),
        opt("interval", Ty::Str),
        opt("timeout", Ty::Str),
        opt("ttl", Ty::Str),
        opt("http", Ty::Str),
        opt("header", Ty::Headers),
        opt("method", Ty::Str),
        opt("body", Ty::Str),
        opt("tcp", Ty::Str),
        opt("udp", Ty::Str),
        opt("status", Ty::Enum(CHECK_STATUSES)),
        opt("notes", Ty::Str),
        opt("tlsServerName", Ty::Str),
        opt("tlsSkipVerify", Ty::Bool),
        opt("grpc", Ty::Str),
        opt("grpcUseTls", Ty::Bool),
        opt("h2ping", Ty::Str),
        opt("h2pingUseTls", Ty::Bool),
        opt("aliasNode", Ty::Str),
        opt("aliasService", Ty::Str),
        opt("successBeforePassing", Ty::Int),
        opt("failuresBeforeCritical", Ty::Int),
    ],
    extra: Extra::Forbid,
    // v0.6.2 serialises this flag as `h2pingUseTLS` but its schema only
    // accepts `h2pingUseTls`; we accept both so its own output loads.
    aliases: &[("h2pingUseTLS", "h2pingUseTls")],
};

static PROXY: ObjSpec = ObjSpec {
    fields: &[
        opt("config", Ty::Opaque),
        opt("publicListenerPort", Ty::Port),
        opt("upstreams", Ty::Array(&Ty::Obj(&UPSTREAM), false)),
        opt("meshGateway", Ty::Obj(&MESH_GATEWAY)),
        opt("expose", Ty::Obj(&EXPOSE)),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static UPSTREAM: ObjSpec = ObjSpec {
    fields: &[
        opt("destinationType", Ty::Enum(DESTINATION_TYPES)),
        opt("destinationNamespace", Ty::Str),
        opt("destinationPartition", Ty::Str),
        req("destinationName", Ty::Str),
        opt("datacenter", Ty::Str),
        opt("localBindAddress", Ty::Str),
        req("localBindPort", Ty::Port),
        opt("config", Ty::Opaque),
        opt("meshGateway", Ty::Obj(&MESH_GATEWAY)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

pub(crate) static MESH_GATEWAY: ObjSpec = ObjSpec {
    fields: &[req("mode", Ty::Enum(MESH_GATEWAY_MODES))],
    extra: Extra::Ignore,
    aliases: &[],
};

// v0.6.2's schema misplaces `expose`, so it was never checked there; we apply
// the schema its authors wrote for it (types, protocol enum), keeping its lack
// of an extra-key rule.
pub(crate) static EXPOSE: ObjSpec = ObjSpec {
    fields: &[
        opt("checks", Ty::Bool),
        opt("paths", Ty::Array(&Ty::Obj(&EXPOSE_PATH), false)),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static EXPOSE_PATH: ObjSpec = ObjSpec {
    fields: &[
        opt("listenerPort", Ty::Port),
        opt("path", Ty::Str),
        opt("localPathPort", Ty::Port),
        opt("protocol", Ty::Enum(EXPOSE_PROTOCOLS)),
    ],
    extra: Extra::Ignore,
    aliases: &[],
};

static GATEWAY: ObjSpec = ObjSpec {
    fields: &[
        req("kind", Ty::Enum(GATEWAY_KINDS)),
        opt("lanAddress", Ty::Obj(&GATEWAY_ADDRESS)),
        opt("wanAddress", Ty::Obj(&GATEWAY_ADDRESS)),
        opt("name", Ty::Name),
        opt("tags", Ty::Array(&Ty::Str, true)),
        opt("meta", Ty::StrMap),
        opt("namespace", Ty::Str),
        opt("partition", Ty::Str),
        opt("proxy", Ty::Obj(&GATEWAY_PROXY)),
    ],
    extra: Extra::Forbid,
    aliases: &[],
};

pub(crate) static GATEWAY_ADDRESS: ObjSpec = ObjSpec {
    fields: &[opt("address", Ty::Str), opt("port", Ty::Port)],
    extra: Extra::Forbid,
    aliases: &[],
};

pub(crate) static GATEWAY_PROXY: ObjSpec = ObjSpec {
    fields: &[opt("config", Ty::Opaque)],
    extra: Extra::Ignore,
    aliases: &[],
};

/// Checks `doc` against [`ROOT`] (the v0.6.2 rules). Returns the cleaned
/// document when there is no problem, otherwise every problem found, in
/// document order.
pub(crate) fn validate(doc: &Value) -> Result<Value, Vec<FieldError>> {
    validate_against(doc, &ROOT)
}

/// Checks `doc` against the block table `root` (one walk for both layouts).
pub(crate) fn validate_against(
    doc: &Value,
    root: &'static ObjSpec,
) -> Result<Value, Vec<FieldError>> {
    let mut errors = Vec::new();
    let cleaned = check(doc, Ty::Obj(root), At::item(""), &mut errors);
    match cleaned {
        Some(value) if errors.is_empty() => Ok(value),
        _ => Err(errors),
    }
}

/// Joins a parent path and a key or index with a dot (corpus path form).
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

fn error(errors: &mut Vec<FieldError>, path: &str, message: String) {
    errors.push(FieldError {
        path: path.to_owned(),
        message,
    });
}

/// Where a value sits: its path, and whether `null` would also have been
/// accepted there (so type errors can say "or null").
#[derive(Clone, Copy)]
struct At<'a> {
    path: &'a str,
    nullable: bool,
}

impl<'a> At<'a> {
    /// A position where `null` is not allowed (list items, map values, root).
    fn item(path: &'a str) -> Self {
        At {
            path,
            nullable: false,
        }
    }

    fn or_null(self) -> &'static str {
        if self.nullable {
            " or null"
        } else {
            ""
        }
    }
}

/// Checks one non-null value; returns its cleaned form (None after an error).
fn check(value: &Value, ty: Ty, at: At<'_>, errors: &mut Vec<FieldError>) -> Option<Value> {
    match ty {
        Ty::Str => expect_str(value, ty, at, errors).map(|_| value.clone()),
        Ty::NonEmptyStr => {
            let text = expect_str(value, ty, at, errors)?;
            if text.is_empty() {
                error(
                    errors,
                    at.path,
                    "must not be empty (at least 1 character)".into(),
                );
                return None;
            }
            Some(value.clone())
        }
        Ty::Enum(allowed) => {
            let text = expect_str(value, ty, at, errors)?;
            if !allowed.contains(&text) {
                error(
                    errors,
                    at.path,
                    format!(
                        "expected {}{}, got {}",
                        describe(ty),
                        at.or_null(),
                        show(value)
                    ),
                );
                return None;
            }
            Some(value.clone())
        }
        Ty::Name => {
            let text = expect_str(value, ty, at, errors)?;
            if !is_valid_name(text) {
                error(
                    errors,
                    at.path,
                    format!(
                        "expected {} (empty, or lower-case letters and digits with '-' or '_' \
                         only between them, i.e. ^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$), got {}",
                        describe(ty),
                        show(value)
                    ),
                );
                return None;
            }
            Some(value.clone())
        }
        Ty::Bool => {
            if value.is_boolean() {
                Some(value.clone())
            } else {
                mismatch(value, ty, at, errors)
            }
        }
        Ty::Int => {
            expect_int(value, ty, at, errors)?;
            Some(value.clone())
        }
        Ty::Port => {
            let n = expect_int(value, ty, at, errors)?;
            if !(0..=i64::from(u16::MAX)).contains(&n) {
                error(
                    errors,
                    at.path,
                    format!("expected a port number 0..65535, got {n}"),
                );
                return None;
            }
            Some(value.clone())
        }
        Ty::Range(min, max) => {
            let n = expect_int(value, ty, at, errors)?;
            if !(min..=max).contains(&n) {
                error(
                    errors,
                    at.path,
                    format!("expected {}, got {n}", describe(ty)),
                );
                return None;
            }
            Some(value.clone())
        }
        Ty::Opaque => {
            if value.is_object() {
                Some(value.clone())
            } else {
                mismatch(value, ty, at, errors)
            }
        }
        Ty::StrMap => {
            let Some(map) = value.as_object() else {
                return mismatch(value, ty, at, errors);
            };
            let mut ok = true;
            for (key, item) in map {
                ok &= check(item, Ty::Str, At::item(&join(at.path, key)), errors).is_some();
            }
            ok.then(|| value.clone())
        }
        Ty::Headers => {
            let Some(map) = value.as_object() else {
                return mismatch(value, ty, at, errors);
            };
            let mut ok = true;
            for (key, item) in map {
                ok &= check(
                    item,
                    Ty::Array(&Ty::Str, false),
                    At::item(&join(at.path, key)),
                    errors,
                )
                .is_some();
            }
            ok.then(|| value.clone())
        }
        Ty::Array(item_ty, unique) => {
            let Some(items) = value.as_array() else {
                return mismatch(value, ty, at, errors);
            };
            let mut cleaned = Vec::with_capacity(items.len());
            let mut ok = true;
            for (index, item) in items.iter().enumerate() {
                match check(
                    item,
                    *item_ty,
                    At::item(&join(at.path, &index.to_string())),
                    errors,
                ) {
                    Some(item) => cleaned.push(item),
                    None => ok = false,
                }
            }
            if unique {
                if let Some((first, second)) = first_duplicate(items) {
                    error(
                        errors,
                        at.path,
                        format!(
                            "items must be unique, but {} appears at positions {first} and {second}",
                            show(&items[first])
                        ),
                    );
                    ok = false;
                }
            }
            ok.then_some(Value::Array(cleaned))
        }
        Ty::Obj(spec) => check_object(value, spec, ty, at, errors),
    }
}

fn check_object(
    value: &Value,
    spec: &'static ObjSpec,
    ty: Ty,
    at: At<'_>,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let Some(map) = value.as_object() else {
        return mismatch(value, ty, at, errors);
    };
    let mut cleaned = Map::new();
    // Which key (as written) supplied each canonical field, to detect an
    // alias and its canonical spelling given with different values.
    let mut sources: Vec<(&'static str, &str)> = Vec::new();
    let mut ok = true;
    for (key, item) in map {
        let key_path = join(at.path, key);
        let field = spec
            .fields
            .iter()
            .find(|f| f.name == key.as_str())
            .or_else(|| {
                let (_, canonical) = spec
                    .aliases
                    .iter()
                    .find(|(alias, _)| *alias == key.as_str())?;
                spec.fields.iter().find(|f| f.name == *canonical)
            });
        let Some(field) = field else {
            // Go decoding matched keys case-insensitively, so in v0.6.2 a
            // mis-cased key silently set the field (skipping the schema).
            // We refuse it everywhere and point at the right spelling.
            if let Some(field) = spec.fields.iter().find(|f| fold_eq(f.name, key)) {
                error(
                    errors,
                    &key_path,
                    format!(
                        "unknown key (keys are case-sensitive); did you mean `{}`?",
                        join(at.path, field.name)
                    ),
                );
                ok = false;
            } else if spec.extra == Extra::Forbid {
                let allowed: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
                error(
                    errors,
                    &key_path,
                    format!("unknown key; allowed keys here: {}", allowed.join(", ")),
                );
                ok = false;
            }
            continue;
        };
        let name = field.name;
        if let Some((_, earlier)) = sources.iter().find(|(n, _)| *n == name) {
            if map.get(*earlier) != Some(item) {
                error(
                    errors,
                    &key_path,
                    format!(
                        "conflicts with `{}` given with a different value",
                        join(at.path, earlier)
                    ),
                );
                ok = false;
            }
            continue;
        }
        sources.push((name, key.as_str()));
        if item.is_null() {
            if !field.nullable {
                error(
                    errors,
                    &key_path,
                    format!("must not be null; expected {}", describe(field.ty)),
                );
                ok = false;
            }
            // A null on a nullable field means "not set": leave it out.
            continue;
        }
        match check(
            item,
            field.ty,
            At {
                path: &key_path,
                nullable: field.nullable,
            },
            errors,
        ) {
            Some(item) => {
                cleaned.insert(name.to_owned(), item);
            }
            None => ok = false,
        }
    }
    for field in spec.fields.iter().filter(|f| f.required) {
        if !sources.iter().any(|(n, _)| *n == field.name) {
            error(
                errors,
                &join(at.path, field.name),
                format!("required key is missing; expected {}", describe(field.ty)),
            );
            ok = false;
        }
    }
    ok.then_some(Value::Object(cleaned))
}

fn expect_str<'v>(
    value: &'v Value,
    ty: Ty,
    at: At<'_>,
    errors: &mut Vec<FieldError>,
) -> Option<&'v str> {
    match value.as_str() {
        Some(text) => Some(text),
        None => mismatch(value, ty, at, errors),
    }
}

/// Accepts only integers Go's `encoding/json` would decode into an `int`.
fn expect_int(value: &Value, ty: Ty, at: At<'_>, errors: &mut Vec<FieldError>) -> Option<i64> {
    let Value::Number(number) = value else {
        return mismatch(value, ty, at, errors);
    };
    if let Some(n) = number.as_i64() {
        return Some(n);
    }
    let message = if number.is_u64() {
        format!(
            "expected {}, got {number}, which does not fit in 64 bits",
            describe(ty)
        )
    } else if is_integral_float(number) {
        format!(
            "expected {}, got number {number}: write it without a decimal point or exponent",
            describe(ty)
        )
    } else {
        format!("expected {}, got number {number}", describe(ty))
    };
    error(errors, at.path, message);
    None
}

fn is_integral_float(number: &Number) -> bool {
    number
        .as_f64()
        .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
}

fn mismatch<T>(value: &Value, ty: Ty, at: At<'_>, errors: &mut Vec<FieldError>) -> Option<T> {
    error(
        errors,
        at.path,
        format!(
            "expected {}{}, got {}",
            describe(ty),
            at.or_null(),
            show(value)
        ),
    );
    None
}

/// The name pattern `^[a-z0-9]([a-z0-9-_]*[a-z0-9])?$` (RE2: `$` is the true
/// end, so a trailing newline fails), or the empty string.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let inner = |b: &u8| edge(b) || *b == b'-' || *b == b'_';
    match (bytes.first(), bytes.last()) {
        (None, _) | (_, None) => true,
        (Some(first), Some(last)) => edge(first) && edge(last) && bytes.iter().all(inner),
    }
}

/// Case-insensitive key comparison with the simple case folding Go's
/// `strings.EqualFold` uses (which also folds the Kelvin sign and long s).
fn fold_eq(a: &str, b: &str) -> bool {
    fn fold(c: char) -> char {
        match c {
            '\u{212A}' => 'k',
            '\u{017F}' => 's',
            _ => c.to_lowercase().next().unwrap_or(c),
        }
    }
    a.chars().count() == b.chars().count()
        && a.chars().zip(b.chars()).all(|(x, y)| fold(x) == fold(y))
}

fn first_duplicate(items: &[Value]) -> Option<(usize, usize)> {
    items.iter().enumerate().find_map(|(i, a)| {
        items[i + 1..]
            .iter()
            .position(|b| a == b)
            .map(|j| (i, i + 1 + j))
    })
}

/// Human wording of what a type accepts, for "expected ..." messages.
fn describe(ty: Ty) -> String {
    match ty {
        Ty::Str => "a string".into(),
        Ty::NonEmptyStr => "a non-empty string".into(),
        Ty::Enum(allowed) => {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("\"{a}\"")).collect();
            if quoted.len() == 1 {
                format!("the string {}", quoted[0])
            } else {
                format!("one of {}", quoted.join(", "))
            }
        }
        Ty::Name => "a name string".into(),
        Ty::Bool => "a boolean (true or false)".into(),
        Ty::Int => "an integer".into(),
        Ty::Port => "an integer port number 0..65535".into(),
        Ty::Range(min, i64::MAX) => format!("an integer of at least {min}"),
        Ty::Range(min, max) => format!("an integer {min}..{max}"),
        Ty::Obj(_) | Ty::Opaque => "an object".into(),
        Ty::StrMap => "an object whose values are strings".into(),
        Ty::Headers => "an object whose values are arrays of strings".into(),
        Ty::Array(item, _) => match item {
            Ty::Str => "an array of strings".into(),
            Ty::Obj(_) => "an array of objects".into(),
            Ty::Port => "an array of integer port numbers".into(),
            _ => "an array".into(),
        },
    }
}

/// Short rendering of an offending value for error messages.
fn show(value: &Value) -> String {
    const LIMIT: usize = 60;
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) => {
            let rendered = Value::String(s.clone()).to_string();
            if rendered.chars().count() > LIMIT {
                let cut: String = rendered.chars().take(LIMIT).collect();
                format!("string {cut}...")
            } else {
                format!("string {rendered}")
            }
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::{fold_eq, is_valid_name};

    #[test]
    fn name_pattern_follows_re2_semantics() {
        for ok in [
            "",
            "a",
            "0",
            "web",
            "web-api_v2",
            "a-b",
            "a_b",
            "a--_b",
            "9z",
        ] {
            assert!(is_valid_name(ok), "{ok:?} should match");
        }
        for bad in [
            "-a", "a-", "_a", "a_", "A", "Web", "web api", "web\n", "\nweb", "wéb", "a.b", "-",
        ] {
            assert!(!is_valid_name(bad), "{bad:?} should not match");
        }
    }

    #[test]
    fn key_folding_matches_go_equal_fold() {
        assert!(fold_eq("bootstrapDir", "BOOTSTRAPDIR"));
        assert!(fold_eq("kind", "\u{212a}ind"));
        assert!(fold_eq("tags", "tag\u{017f}"));
        assert!(!fold_eq("tags", "tag"));
        assert!(!fold_eq("port", "ports"));
    }
}
