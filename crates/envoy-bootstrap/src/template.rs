//! `envoy_bootstrap_json_tpl`: the user's replacement for the whole bootstrap layout.
//!
//! Upstream runs the text through Go's `text/template`. We support what such templates
//! need in practice, `{{ .Name }}` placeholders (with the `{{-`/`-}}` whitespace trimming),
//! and reject any other action by naming the key rather than guessing at Go semantics.

use crate::error::BootstrapError;
use crate::proxy_config::BOOTSTRAP_JSON_TPL;

/// Replaces each `{{ .Name }}` with `lookup("Name")`, inserted as plain text (no escaping,
/// as in Go). Unknown names and other actions are errors naming the template key.
pub(crate) fn render(
    template: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, BootstrapError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after_open = &rest[start + 2..];
        let end = after_open.find("}}").ok_or_else(|| {
            BootstrapError::setting(BOOTSTRAP_JSON_TPL, "unclosed action: \"{{\" without \"}}\"")
        })?;
        let mut action = &after_open[..end];
        rest = &after_open[end + 2..];

        // Go's trim markers need a space next to the dash ("{{- x" / "x -}}").
        if let Some(inner) = action.strip_prefix("- ") {
            action = inner;
            out.truncate(out.trim_end().len());
        }
        let mut trim_after = false;
        if let Some(inner) = action.strip_suffix(" -") {
            action = inner;
            trim_after = true;
        }

        let name = action
            .trim()
            .strip_prefix('.')
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .ok_or_else(|| {
                BootstrapError::setting(
                    BOOTSTRAP_JSON_TPL,
                    format!(
                        "unsupported template action {{{{{}}}}}: only {{{{ .Name }}}} placeholders are supported",
                        // One short line whatever the template holds.
                        boundary::truncate_chars(action, 60)
                    ),
                )
            })?;
        let value = lookup(name).ok_or_else(|| {
            BootstrapError::setting(BOOTSTRAP_JSON_TPL, format!("unknown placeholder .{name}"))
        })?;
        out.push_str(&value);

        if trim_after {
            rest = rest.trim_start();
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "ProxyID" => Some("web-proxy".into()),
            "AdminBindPort" => Some("19000".into()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_placeholders_as_plain_text() {
        let out = render(
            r#"{"id": "{{ .ProxyID }}", "port": {{.AdminBindPort}}}"#,
            lookup,
        )
        .unwrap();
        assert_eq!(out, r#"{"id": "web-proxy", "port": 19000}"#);
    }

    #[test]
    fn trim_markers_remove_adjacent_whitespace() {
        let out = render("[ \n {{- .ProxyID -}} \n ]", lookup).unwrap();
        assert_eq!(out, "[web-proxy]");
    }

    #[test]
    fn unknown_placeholder_names_the_key() {
        let err = render("{{ .Nope }}", lookup).unwrap_err().to_string();
        assert_eq!(err, "envoy_bootstrap_json_tpl: unknown placeholder .Nope");
    }

    #[test]
    fn control_actions_are_rejected_with_the_key() {
        for tpl in [
            "{{ if .AgentTLS }}x{{ end }}",
            "{{ range .X }}",
            "{{ .A.B }}",
            "{{",
        ] {
            let err = render(tpl, lookup).unwrap_err().to_string();
            assert!(
                err.starts_with("envoy_bootstrap_json_tpl: "),
                "{tpl}: {err}"
            );
        }
    }
}
