//! The Consul objects the controller owns, exactly as consul-ecs v0.6.2 writes them
//! (docs/protocols.md §5.8, §5.9): names, descriptions, rules text, auth methods and binding
//! rules. Pure functions: nothing here talks to Consul.

use consul::{
    AclAuthMethod, AclAuthMethodNamespaceRule, AclBindingRule, AclLink, AclPolicy, AclRole,
};
use serde_json::{json, Map, Value};

/// Auth method for the Consul client agent's token (the consul-client container).
pub const CLIENT_AUTH_METHOD: &str = "iam-ecs-client-token";
/// Auth method for the service token (mesh-init's login).
pub const SERVICE_AUTH_METHOD: &str = "iam-ecs-service-token";
/// Both auth methods, in the order they are set up and reconciled.
pub const AUTH_METHODS: [&str; 2] = [CLIENT_AUTH_METHOD, SERVICE_AUTH_METHOD];
/// Policy of the client role.
pub const CLIENT_POLICY: &str = "consul-ecs-client-policy";
/// Role client tokens are bound to.
pub const CLIENT_ROLE: &str = "consul-ecs-client-role";
/// Policy added to the anonymous token (primary datacenter only).
pub const ANONYMOUS_POLICY: &str = "anonymous-token-policy";
/// Policy every namespace of the partition gets as a default (partitions only).
pub const CROSS_NAMESPACE_POLICY: &str = "cross-namespace-read";
/// Accessor ID of Consul's built-in anonymous token.
pub const ANONYMOUS_TOKEN_ACCESSOR: &str = "00000000-0000-0000-0000-000000000002";
/// IAM role tag the service binding rule reads the service name from.
pub const SERVICE_NAME_TAG: &str = "consul.hashicorp.com.service-name";
/// IAM role tag the namespace rule reads the namespace from (Enterprise).
pub const NAMESPACE_TAG: &str = "consul.hashicorp.com.namespace";
/// Default partition and namespace names (Enterprise).
pub const DEFAULT_TENANCY: &str = "default";

/// The auth method `Config` keys whose values the controller decides. Other keys an
/// operator set (`ServerIDHeaderValue`, `STSEndpoint`, …) are kept on update.
pub const OWNED_CONFIG_KEYS: [&str; 3] = [
    "BoundIAMPrincipalARNs",
    "EnableIAMEntityDetails",
    "IAMEntityTags",
];

/// `Rules` of [`CLIENT_POLICY`]: node write, service read (v0.6.2's literal text).
pub fn client_policy_rules(partition: Option<&str>) -> String {
    match partition {
        None => r#"node_prefix "" { policy = "write" } service_prefix "" { policy = "read" }"#
            .to_string(),
        Some(p) => format!(
            "partition \"{p}\" {{\n  node_prefix \"\" {{\n    policy = \"write\"\n  }}\n  namespace_prefix \"\" {{\n    service_prefix \"\" {{\n      policy = \"read\"\n    }}\n  }}\n}}"
        ),
    }
}

/// `Rules` of [`ANONYMOUS_POLICY`]: node and service read (v0.6.2's literal text, including
/// its leading newline and odd indentation, so a policy it created compares equal).
pub fn anonymous_policy_rules(partitions: bool) -> String {
    if partitions {
        "\npartition_prefix \"\" {\n  namespace_prefix \"\" {\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n    service_prefix \"\" {\n      policy = \"read\"\n    }\n  }\n}".to_string()
    } else {
        "\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n    service_prefix \"\" {\n      policy = \"read\"\n    }".to_string()
    }
}

/// `Rules` of [`CROSS_NAMESPACE_POLICY`] in partition `partition`.
pub fn cross_namespace_rules(partition: &str) -> String {
    format!(
        "partition \"{partition}\" {{\n  namespace_prefix \"\" {{\n    service_prefix \"\" {{\n      policy = \"read\"\n    }}\n    node_prefix \"\" {{\n      policy = \"read\"\n    }}\n  }}\n}}"
    )
}

/// The client policy to create.
pub fn client_policy(partition: Option<&str>) -> AclPolicy {
    AclPolicy {
        name: CLIENT_POLICY.to_string(),
        description: "Consul Client Token Policy for ECS".to_string(),
        rules: client_policy_rules(partition),
        ..AclPolicy::default()
    }
}

/// The anonymous-token policy to create.
pub fn anonymous_policy(partitions: bool) -> AclPolicy {
    AclPolicy {
        name: ANONYMOUS_POLICY.to_string(),
        // consul-k8s creates the same policy; the description must match it exactly.
        description: "Anonymous token Policy".to_string(),
        rules: anonymous_policy_rules(partitions),
        ..AclPolicy::default()
    }
}

/// The cross-namespace-read policy to create in `partition`'s default namespace.
pub fn cross_namespace_policy(partition: &str) -> AclPolicy {
    AclPolicy {
        name: CROSS_NAMESPACE_POLICY.to_string(),
        description: "Allow service and node reads across namespaces within the partition"
            .to_string(),
        rules: cross_namespace_rules(partition),
        namespace: DEFAULT_TENANCY.to_string(),
        partition: partition.to_string(),
        ..AclPolicy::default()
    }
}

/// The client role to create.
pub fn client_role() -> AclRole {
    AclRole {
        name: CLIENT_ROLE.to_string(),
        description: "Consul Client Token Role for ECS".to_string(),
        policies: vec![AclLink::by_name(CLIENT_POLICY)],
        ..AclRole::default()
    }
}

/// The IAM role ARN pattern the auth methods trust: every role under `role_path` of the
/// account (`role_path` already trimmed of slashes; empty = every role).
pub fn bound_arn(account_id: &str, role_path: &str) -> String {
    if role_path.is_empty() {
        format!("arn:aws:iam::{account_id}:role/*")
    } else {
        format!("arn:aws:iam::{account_id}:role/{role_path}/*")
    }
}

/// The auth method `name` as this controller defines it, trusting `bound_arns`.
/// `partitions` adds the service method's namespace rule.
pub fn auth_method(name: &str, bound_arns: &[String], partitions: bool) -> AclAuthMethod {
    let service = name == SERVICE_AUTH_METHOD;
    let mut config = Map::new();
    config.insert("BoundIAMPrincipalARNs".into(), json!(bound_arns));
    config.insert("EnableIAMEntityDetails".into(), Value::Bool(true));
    if service {
        config.insert(
            "IAMEntityTags".into(),
            json!([SERVICE_NAME_TAG, NAMESPACE_TAG]),
        );
    }
    let namespace_rules = if service && partitions {
        vec![AclAuthMethodNamespaceRule {
            selector: format!("entity_tags[\"{NAMESPACE_TAG}\"] != \"\""),
            bind_namespace: format!("${{entity_tags.{NAMESPACE_TAG}}}"),
        }]
    } else {
        Vec::new()
    };
    AclAuthMethod {
        name: name.to_string(),
        method_type: "aws-iam".to_string(),
        description: if service {
            "AWS IAM auth method for ECS service tokens".to_string()
        } else {
            "AWS IAM auth method for ECS client tokens".to_string()
        },
        config,
        namespace_rules,
        ..AclAuthMethod::default()
    }
}

/// The binding rule of auth method `method`.
pub fn binding_rule(method: &str) -> AclBindingRule {
    if method == SERVICE_AUTH_METHOD {
        AclBindingRule {
            description: "Bind a service identity from IAM role tag for ECS".to_string(),
            auth_method: method.to_string(),
            bind_type: "service".to_string(),
            bind_name: format!("${{entity_tags.{SERVICE_NAME_TAG}}}"),
            ..AclBindingRule::default()
        }
    } else {
        AclBindingRule {
            description: "Bind a policy for Consul clients on ECS".to_string(),
            auth_method: method.to_string(),
            bind_type: "role".to_string(),
            bind_name: CLIENT_ROLE.to_string(),
            ..AclBindingRule::default()
        }
    }
}

/// `BoundIAMPrincipalARNs` of an existing method's config (strings only; Consul decodes the
/// field weakly, so a lone string counts as a one-element list).
pub fn config_bound_arns(config: &Map<String, Value>) -> Vec<String> {
    let value = config
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("BoundIAMPrincipalARNs"))
        .map(|(_, v)| v);
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Union of the ARNs an existing method trusts (other controllers', other accounts') and
/// ours: sorted and de-duplicated, so every controller computes the same list.
pub fn merge_arns(existing: &[String], ours: &[String]) -> Vec<String> {
    let mut all: Vec<String> = existing.iter().chain(ours).cloned().collect();
    all.sort();
    all.dedup();
    all
}

/// What to `PUT` when `existing` differs from `desired` in anything the controller owns:
/// `desired` with the merged ARNs and with the config keys the controller does not own
/// carried over from `existing`. `None` when nothing needs to change.
pub fn auth_method_update(
    existing: &AclAuthMethod,
    desired: &AclAuthMethod,
) -> Option<AclAuthMethod> {
    let merged = merge_arns(
        &config_bound_arns(&existing.config),
        &config_bound_arns(&desired.config),
    );
    let mut next = desired.clone();
    next.config
        .insert("BoundIAMPrincipalARNs".into(), json!(merged));
    for (key, value) in &existing.config {
        let owned = OWNED_CONFIG_KEYS
            .iter()
            .any(|k| k.eq_ignore_ascii_case(key));
        if !owned {
            next.config.insert(key.clone(), value.clone());
        }
    }
    // Keep what the controller does not define: a display name, a token TTL or locality an
    // operator chose.
    next.display_name = existing.display_name.clone();
    next.max_token_ttl = existing.max_token_ttl.clone();
    next.token_locality = existing.token_locality.clone();
    let same = normalised_config(&existing.config) == normalised_config(&next.config)
        && existing.description == next.description
        && existing.method_type == next.method_type
        && existing.namespace_rules == next.namespace_rules;
    (!same).then_some(next)
}

/// A config with canonical key spelling, for comparing what Consul returns (its own key
/// case) with what we would send.
fn normalised_config(config: &Map<String, Value>) -> Map<String, Value> {
    config
        .iter()
        .map(|(k, v)| {
            let key = OWNED_CONFIG_KEYS
                .iter()
                .find(|o| o.eq_ignore_ascii_case(k))
                .map_or_else(|| k.clone(), |o| (*o).to_string());
            (key, v.clone())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Rules` strings of docs/protocols.md §5.8, as the JSON literals written there.
    #[test]
    fn rules_are_v0_6_2_literally() {
        let v062: serde_json::Value = serde_json::from_str(r#"{
  "consul-ecs-client-policy (CE)": "node_prefix \"\" { policy = \"write\" } service_prefix \"\" { policy = \"read\" }",
  "consul-ecs-client-policy (partitions)": "partition \"<p>\" {\n  node_prefix \"\" {\n    policy = \"write\"\n  }\n  namespace_prefix \"\" {\n    service_prefix \"\" {\n      policy = \"read\"\n    }\n  }\n}",
  "anonymous-token-policy (CE)": "\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n    service_prefix \"\" {\n      policy = \"read\"\n    }",
  "anonymous-token-policy (partitions)": "\npartition_prefix \"\" {\n  namespace_prefix \"\" {\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n    service_prefix \"\" {\n      policy = \"read\"\n    }\n  }\n}",
  "cross-namespace-read (partitions, §5.9)": "partition \"<p>\" {\n  namespace_prefix \"\" {\n    service_prefix \"\" {\n      policy = \"read\"\n    }\n    node_prefix \"\" {\n      policy = \"read\"\n    }\n  }\n}"
}"#).unwrap();
        let want = |k: &str| v062[k].as_str().unwrap().replace("<p>", "ptn1");
        assert_eq!(
            client_policy_rules(None),
            want("consul-ecs-client-policy (CE)")
        );
        assert_eq!(
            client_policy_rules(Some("ptn1")),
            want("consul-ecs-client-policy (partitions)")
        );
        assert_eq!(
            anonymous_policy_rules(false),
            want("anonymous-token-policy (CE)")
        );
        assert_eq!(
            anonymous_policy_rules(true),
            want("anonymous-token-policy (partitions)")
        );
        assert_eq!(
            cross_namespace_rules("ptn1"),
            want("cross-namespace-read (partitions, §5.9)")
        );
    }

    #[test]
    fn bound_arn_forms() {
        assert_eq!(
            bound_arn("123456789012", "consul-ecs"),
            "arn:aws:iam::123456789012:role/consul-ecs/*"
        );
        assert_eq!(
            bound_arn("123456789012", "a/b"),
            "arn:aws:iam::123456789012:role/a/b/*"
        );
        assert_eq!(
            bound_arn("123456789012", ""),
            "arn:aws:iam::123456789012:role/*"
        );
    }

    #[test]
    fn merge_is_a_sorted_union() {
        let existing = vec![
            "arn:aws:iam::222222222222:role/consul-ecs/*".to_string(),
            "arn:aws:iam::111111111111:role/consul-ecs/*".to_string(),
            "arn:aws:iam::111111111111:role/consul-ecs/*".to_string(),
        ];
        let ours = vec!["arn:aws:iam::111111111111:role/consul-ecs/*".to_string()];
        assert_eq!(
            merge_arns(&existing, &ours),
            vec![
                "arn:aws:iam::111111111111:role/consul-ecs/*",
                "arn:aws:iam::222222222222:role/consul-ecs/*"
            ]
        );
    }

    #[test]
    fn update_only_when_something_owned_differs() {
        let ours = vec![bound_arn("111111111111", "consul-ecs")];
        let desired = auth_method(SERVICE_AUTH_METHOD, &ours, false);
        let mut existing = desired.clone();
        assert!(auth_method_update(&existing, &desired).is_none());

        // Another account's ARN and an operator's server-ID header are kept.
        existing.config.insert(
            "BoundIAMPrincipalARNs".into(),
            json!(["arn:aws:iam::999999999999:role/x/*"]),
        );
        existing
            .config
            .insert("ServerIDHeaderValue".into(), json!("consul.example.com"));
        let next = auth_method_update(&existing, &desired).expect("ARN missing");
        assert_eq!(
            next.config["BoundIAMPrincipalARNs"],
            json!([
                "arn:aws:iam::111111111111:role/consul-ecs/*",
                "arn:aws:iam::999999999999:role/x/*"
            ])
        );
        assert_eq!(next.config["ServerIDHeaderValue"], "consul.example.com");
        assert!(auth_method_update(&next, &desired).is_none());
    }

    #[test]
    fn namespace_rule_only_with_partitions_and_only_on_the_service_method() {
        let arns = vec![bound_arn("1", "p")];
        assert!(auth_method(SERVICE_AUTH_METHOD, &arns, false)
            .namespace_rules
            .is_empty());
        assert!(auth_method(CLIENT_AUTH_METHOD, &arns, true)
            .namespace_rules
            .is_empty());
        let rule = &auth_method(SERVICE_AUTH_METHOD, &arns, true).namespace_rules[0];
        assert_eq!(
            rule.selector,
            "entity_tags[\"consul.hashicorp.com.namespace\"] != \"\""
        );
        assert_eq!(
            rule.bind_namespace,
            "${entity_tags.consul.hashicorp.com.namespace}"
        );
    }
}
