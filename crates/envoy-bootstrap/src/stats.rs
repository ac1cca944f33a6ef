//! The generated `stats_config`: Consul's tag extraction rules and fixed source tags.

use serde_json::{json, Value};

/// Tag rules that pull Consul's naming parts out of cluster and listener stat names.
/// The outer capture group is removed from the stat name, the inner one becomes the tag.
/// Copied from Consul 1.17 (MPL-2.0) because dashboards depend on the exact names.
const RESOURCE_TAG_RULES: &[(&str, &str)] = &[
    (
        "consul.destination.custom_hash",
        r"^cluster\.(?:passthrough~)?((?:([^.]+)~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.service_subset",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:([^.]+)\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.service",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:[^.]+\.)?([^.]+)\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.namespace",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.([^.]+)\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.partition",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:([^.]+)\.)?[^.]+\.internal[^.]*\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.datacenter",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?([^.]+)\.internal[^.]*\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.peer",
        r"^cluster\.([^.]+\.(?:[^.]+\.)?([^.]+)\.external\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.routing_type",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.([^.]+)\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.trust_domain",
        r"^cluster\.(?:passthrough~)?((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.([^.]+)\.consul\.)",
    ),
    (
        "consul.destination.target",
        r"^cluster\.(?:passthrough~)?(((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+)\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.destination.full_target",
        r"^cluster\.(?:passthrough~)?(((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+)\.consul\.)",
    ),
    (
        "consul.upstream.service",
        r"^(?:tcp|http)\.upstream(?:_peered)?\.(([^.]+)(?:\.[^.]+)?(?:\.[^.]+)?\.[^.]+\.)",
    ),
    (
        "consul.upstream.datacenter",
        r"^(?:tcp|http)\.upstream\.([^.]+(?:\.[^.]+)?(?:\.[^.]+)?\.([^.]+)\.)",
    ),
    (
        "consul.upstream.peer",
        r"^(?:tcp|http)\.upstream_peered\.([^.]+(?:\.[^.]+)?\.([^.]+)\.)",
    ),
    (
        "consul.upstream.namespace",
        r"^(?:tcp|http)\.upstream(?:_peered)?\.([^.]+(?:\.([^.]+))?(?:\.[^.]+)?\.[^.]+\.)",
    ),
    (
        "consul.upstream.partition",
        r"^(?:tcp|http)\.upstream\.([^.]+(?:\.[^.]+)?(?:\.([^.]+))?\.[^.]+\.)",
    ),
];

/// Rules Consul deprecated in 1.9 but still emits unless asked not to, so that existing
/// dashboards keep working.
const DEPRECATED_TAG_RULES: &[(&str, &str)] = &[
    (
        "consul.custom_hash",
        r"^cluster\.((?:([^.]+)~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.service_subset",
        r"^cluster\.((?:[^.]+~)?(?:([^.]+)\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.service",
        r"^cluster\.((?:[^.]+~)?(?:[^.]+\.)?([^.]+)\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.namespace",
        r"^cluster\.((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.([^.]+)\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.datacenter",
        r"^cluster\.((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?([^.]+)\.internal[^.]*\.[^.]+\.consul\.)",
    ),
    (
        "consul.routing_type",
        r"^cluster\.((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.([^.]+)\.[^.]+\.consul\.)",
    ),
    (
        "consul.trust_domain",
        r"^cluster\.((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.([^.]+)\.consul\.)",
    ),
    (
        "consul.target",
        r"^cluster\.(((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+)\.[^.]+\.[^.]+\.consul\.)",
    ),
    (
        "consul.full_target",
        r"^cluster\.(((?:[^.]+~)?(?:[^.]+\.)?[^.]+\.[^.]+\.(?:[^.]+\.)?[^.]+\.[^.]+\.[^.]+)\.consul\.)",
    ),
];

/// Identity of the proxy, for the fixed `consul.source.*` tags.
pub(crate) struct SourceIdentity<'a> {
    pub cluster: &'a str,
    pub service: &'a str,
    pub namespace: &'a str,
    pub partition: &'a str,
    pub datacenter: &'a str,
}

/// Builds the `stats_config` object Consul generates when `envoy_stats_config_json` is unset.
///
/// `custom_tags` are `envoy_stats_tags` entries (`name=value`, or `name` meaning `1`); they
/// come first, and a default fixed tag of the same name is then left out.
pub(crate) fn stats_config(
    custom_tags: &[String],
    source: &SourceIdentity<'_>,
    omit_deprecated_tags: bool,
) -> Value {
    let mut tags = Vec::new();
    let mut explicit_names = Vec::new();
    for tag in custom_tags {
        let (name, value) = match tag.split_once('=') {
            Some((name, value)) => (name, value),
            None => (tag.as_str(), "1"),
        };
        let name = name.to_lowercase();
        tags.push(json!({"tag_name": name, "fixed_value": value}));
        explicit_names.push(name);
    }

    let deprecated: &[(&str, &str)] = if omit_deprecated_tags {
        &[]
    } else {
        DEPRECATED_TAG_RULES
    };
    for (name, regex) in RESOURCE_TAG_RULES.iter().chain(deprecated) {
        tags.push(json!({"regex": regex, "tag_name": name}));
    }

    // Namespace and partition default like the cluster SNI does, so tags match xDS names.
    let defaults = [
        ("local_cluster", source.cluster),
        ("consul.source.service", source.service),
        ("consul.source.namespace", or_default(source.namespace)),
        ("consul.source.partition", or_default(source.partition)),
        ("consul.source.datacenter", source.datacenter),
    ];
    for (name, value) in defaults {
        if value.is_empty() || explicit_names.iter().any(|n| n == name) {
            continue;
        }
        tags.push(json!({"tag_name": name, "fixed_value": value}));
    }

    json!({"stats_tags": tags, "use_all_default_tags": true})
}

/// Consul's spelling of "no namespace/partition given".
pub(crate) fn or_default(value: &str) -> &str {
    if value.is_empty() {
        "default"
    } else {
        value
    }
}
