//! Systematic mutations of the upstream fixtures: parsing never panics, the
//! validator never lets through something the typed model cannot hold (that
//! would surface as an "internal error"), every rejection names a path that
//! exists in the mutated document, and whatever loads serialises to a
//! document that loads back unchanged.

use std::path::PathBuf;

use serde_json::{json, Value};

fn fixtures_dir() -> PathBuf {
    testkit::paths::config_fixtures_dir()
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixtures_dir().join(name)).expect("read fixture");
    serde_json::from_str(&text).expect("fixture is JSON")
}

/// JSON-pointer-like paths (as key lists) of every value in `doc`.
fn all_paths(doc: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    match doc {
        Value::Object(map) => {
            for (key, value) in map {
                prefix.push(key.clone());
                all_paths(value, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (index, value) in items.iter().enumerate() {
                prefix.push(index.to_string());
                all_paths(value, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

fn slot<'v>(doc: &'v mut Value, path: &[String]) -> &'v mut Value {
    path.iter().fold(doc, |value, key| match value {
        Value::Object(map) => map.get_mut(key).expect("path exists"),
        Value::Array(items) => &mut items[key.parse::<usize>().expect("index")],
        _ => panic!("path goes through a scalar"),
    })
}

/// Whether the dotted error path names something in `doc` or a key that is
/// missing directly under an existing object.
fn path_is_plausible(doc: &Value, dotted: &str) -> bool {
    if dotted.is_empty() {
        return true;
    }
    let keys: Vec<&str> = dotted.split('.').collect();
    let mut value = doc;
    for (i, key) in keys.iter().enumerate() {
        let next = match value {
            Value::Object(map) => map.get(*key),
            Value::Array(items) => key.parse::<usize>().ok().and_then(|n| items.get(n)),
            _ => None,
        };
        match next {
            Some(next) => value = next,
            // A missing required key: its parent must exist and be an object.
            None => return i == keys.len() - 1 && value.is_object(),
        }
    }
    true
}

fn check_document(doc: &Value, context: &str) {
    let text = doc.to_string();
    match config::parse(&text) {
        Ok(config) => {
            let again = serde_json::to_string(&config).expect("serialise");
            let reparsed = config::parse(&again)
                .unwrap_or_else(|e| panic!("{context}: round trip of {again} failed: {e}"));
            assert_eq!(reparsed, config, "{context}: round trip changed the config");
        }
        Err(error) => {
            let fields = error.field_errors();
            assert!(
                !fields.is_empty(),
                "{context}: JSON text from serde_json is valid JSON"
            );
            for field in fields {
                assert!(
                    !field.message.contains("internal error"),
                    "{context}: {field}\n{text}"
                );
                // The fixtures' keys contain no dots, so a dotted path
                // resolves unambiguously.
                assert!(
                    path_is_plausible(doc, &field.path),
                    "{context}: error path {:?} not in document {text}",
                    field.path
                );
            }
        }
    }
}

#[test]
fn replacing_any_value_never_breaks_the_loader() {
    let replacements = [
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(8080),
        json!(70000),
        json!(1.5),
        json!(2.0),
        json!(""),
        json!("mesh-gateway"),
        json!("UPPER"),
        json!([]),
        json!(["a", "a"]),
        json!({}),
        json!({"mode": "local"}),
    ];
    let mut checked = 0;
    for name in [
        "test_extensive_config.json",
        "test_config_null_nested_fields.json",
    ] {
        let original = fixture(name);
        let mut paths = Vec::new();
        all_paths(&original, &mut Vec::new(), &mut paths);
        for path in paths.iter().filter(|p| !p.is_empty()) {
            for replacement in &replacements {
                let mut doc = original.clone();
                *slot(&mut doc, path) = replacement.clone();
                check_document(
                    &doc,
                    &format!("{name} with {} = {replacement}", path.join(".")),
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations ran");
}

#[test]
fn removing_any_key_never_breaks_the_loader() {
    let original = fixture("test_extensive_config.json");
    let mut paths = Vec::new();
    all_paths(&original, &mut Vec::new(), &mut paths);
    for path in paths.iter().filter(|p| !p.is_empty()) {
        let mut doc = original.clone();
        let (last, parent) = path.split_last().expect("non-empty");
        match slot(&mut doc, parent) {
            Value::Object(map) => {
                map.shift_remove(last);
            }
            Value::Array(items) => {
                items.remove(last.parse::<usize>().expect("index"));
            }
            _ => unreachable!("parents are containers"),
        }
        check_document(&doc, &format!("without {}", path.join(".")));
    }
}

#[test]
fn truncated_documents_are_json_errors_with_a_position() {
    let text = std::fs::read_to_string(fixtures_dir().join("test_extensive_config.json"))
        .expect("read fixture");
    let end = text.trim_end().len();
    for cut in (0..end).filter(|&i| text.is_char_boundary(i)) {
        match config::parse(&text[..cut]) {
            Err(config::ConfigError::Json { line, column, .. }) => {
                assert!(line >= 1 && column <= text.len(), "cut {cut}");
            }
            other => panic!("cut at {cut}: expected a JSON error, got {other:?}"),
        }
    }
}
