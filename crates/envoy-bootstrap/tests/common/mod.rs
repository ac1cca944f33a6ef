//! Shared by the conformance tests: loading the cases and diffing JSON structurally.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use serde_json::Value;

/// One conformance case file.
pub struct Case {
    pub name: String,
    pub file: PathBuf,
    pub raw: Value,
}

impl Case {
    pub fn input(&self) -> &Value {
        &self.raw["input"]
    }
    pub fn expected(&self) -> &Value {
        &self.raw["expected"]
    }
    pub fn envoy_validates(&self) -> bool {
        self.raw["envoy_1_40_validates"].as_bool() == Some(true)
    }
    pub fn envoy_reason(&self) -> Option<&str> {
        self.raw["envoy_1_40_reason"].as_str()
    }
    pub fn envoy_error(&self) -> Option<&str> {
        self.raw["envoy_1_40_error"].as_str()
    }
}

/// `BOOTSTRAP_CASES_DIR`, else `<compat_dir>/envoy-bootstrap/cases` (`tests/data/compat` by
/// default).
pub fn cases_dir() -> PathBuf {
    testkit::paths::bootstrap_cases_dir()
}

/// Every `*.json` case of [`cases_dir`], sorted by file name. Panics (never skips) when
/// there are none.
pub fn load_cases() -> Vec<Case> {
    load_cases_from(&cases_dir())
}

/// The case called `name`: from [`cases_dir`] when it holds one, else from the
/// repository's own copy. Tests that need one particular situation (the resolver's) look
/// it up here, so pointing `BOOTSTRAP_CASES_DIR` at a different set of cases runs the
/// whole-set tests on that set without breaking them.
pub fn case_named(name: &str) -> Case {
    let own = testkit::paths::workspace_root().join("tests/data/compat/envoy-bootstrap/cases");
    [cases_dir(), own]
        .iter()
        .filter(|dir| dir.is_dir())
        .flat_map(|dir| load_cases_from(dir))
        .find(|c| c.name == name)
        .unwrap_or_else(|| {
            panic!(
                "case {name} is neither in {} nor in the repository's tests/data/compat",
                cases_dir().display()
            )
        })
}

fn load_cases_from(dir: &std::path::Path) -> Vec<Case> {
    let dir = dir.to_path_buf();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read cases dir {}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json cases in {}", dir.display());
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let raw: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: not JSON: {e}", file.display()));
            let name = raw["name"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| file.file_stem().unwrap().to_string_lossy().into_owned());
            Case { name, file, raw }
        })
        .collect()
}

/// One structural difference: where, and what each side holds there.
pub struct Difference {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

/// Structural comparison: objects as unordered maps, arrays element by element, numbers
/// by value. Returns every difference (not just the first) so one run shows them all.
pub fn diff(expected: &Value, actual: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    diff_at("$", expected, actual, &mut out);
    out
}

fn diff_at(path: &str, expected: &Value, actual: &Value, out: &mut Vec<Difference>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, ev) in e {
                let child = format!("{path}.{key}");
                match a.get(key) {
                    Some(av) => diff_at(&child, ev, av, out),
                    None => out.push(Difference {
                        path: child,
                        expected: short(ev),
                        actual: "<missing>".into(),
                    }),
                }
            }
            for (key, av) in a {
                if !e.contains_key(key) {
                    out.push(Difference {
                        path: format!("{path}.{key}"),
                        expected: "<missing>".into(),
                        actual: short(av),
                    });
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            for i in 0..e.len().max(a.len()) {
                let child = format!("{path}[{i}]");
                match (e.get(i), a.get(i)) {
                    (Some(ev), Some(av)) => diff_at(&child, ev, av, out),
                    (Some(ev), None) => out.push(Difference {
                        path: child,
                        expected: short(ev),
                        actual: "<missing>".into(),
                    }),
                    (None, Some(av)) => out.push(Difference {
                        path: child,
                        expected: "<missing>".into(),
                        actual: short(av),
                    }),
                    (None, None) => unreachable!(),
                }
            }
        }
        (Value::Number(e), Value::Number(a)) if e.as_f64() == a.as_f64() => {}
        (e, a) if e == a => {}
        (e, a) => out.push(Difference {
            path: path.to_string(),
            expected: short(e),
            actual: short(a),
        }),
    }
}

/// A value on one line, cut so a diff stays readable.
fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 160 {
        format!("{}...", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

#[test]
fn diff_reports_paths_of_every_difference() {
    let e = serde_json::json!({"a": [1, {"b": "x"}], "c": 1, "k": 2});
    let a = serde_json::json!({"k": 2.0, "a": [1, {"b": "y"}, 3], "d": true});
    let found: Vec<String> = diff(&e, &a)
        .iter()
        .map(|d| format!("{} {} {}", d.path, d.expected, d.actual))
        .collect();
    assert_eq!(
        found,
        vec![
            "$.a[1].b \"x\" \"y\"",
            "$.a[2] <missing> 3",
            "$.c 1 <missing>",
            "$.d <missing> true",
        ]
    );
}
