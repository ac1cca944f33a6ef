//! The Consul objects the v0.10 controller owns, exactly as consul-ecs v0.10.0 writes them
//! (docs/protocols.md §5.11): the gateway policies and roles, the service auth method with
//! its gateway-kind tag, and its four binding rules. Pure functions: nothing here talks to
//! Consul. What v0.10 shares with v0.6.2 (the anonymous-token policy, the bound ARN, the
//! auth method's base) comes from `acl_controller::objects`.

use acl_controller::objects::{self as v062, NAMESPACE_TAG, SERVICE_AUTH_METHOD, SERVICE_NAME_TAG};
use consul::{AclAuthMethod, AclBindingRule, AclLink, AclPolicy, AclRole};
use serde_json::json;

/// IAM role tag naming the gateway kind of a gateway task's role.
pub const GATEWAY_KIND_TAG: &str = "consul.hashicorp.com.gateway-kind";
/// Policy of the API gateway role.
pub const API_GATEWAY_POLICY: &str = "consul-ecs-api-gateway-policy";
/// Role API gateway tokens are bound to.
pub const API_GATEWAY_ROLE: &str = "consul-ecs-api-gateway-role";
/// Policy of the mesh gateway role.
pub const MESH_GATEWAY_POLICY: &str = "consul-ecs-mesh-gateway-policy";
/// Role mesh gateway tokens are bound to.
pub const MESH_GATEWAY_ROLE: &str = "consul-ecs-mesh-gateway-role";
/// Role terminating gateway tokens are bound to; created without policies (operators
/// attach theirs, e.g. with Terraform).
pub const TERMINATING_GATEWAY_ROLE: &str = "consul-ecs-terminating-gateway-role";
/// The one auth method v0.10 sets up.
pub const AUTH_METHOD: &str = SERVICE_AUTH_METHOD;
/// The entity tags the auth method reads, in v0.10's (sorted) order.
pub const ENTITY_TAGS: [&str; 3] = [GATEWAY_KIND_TAG, NAMESPACE_TAG, SERVICE_NAME_TAG];

/// `Rules` of [`API_GATEWAY_POLICY`]: mesh, node and service read (v0.10.0's template as it
/// renders, tabs included); `partitions` wraps node and service in `namespace_prefix ""`.
pub fn api_gateway_policy_rules(partitions: bool) -> String {
    let inner = "\tnode_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n\tservice_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}";
    if partitions {
        format!("mesh = \"read\"\nnamespace_prefix \"\" {{\n{inner}\n}}")
    } else {
        format!("mesh = \"read\"\n{inner}")
    }
}

/// `Rules` of [`MESH_GATEWAY_POLICY`]: mesh write, peering read, and in partition `default`
/// peering read in every partition (v0.10.0's template as it renders).
pub fn mesh_gateway_policy_rules(partition: Option<&str>) -> String {
    let base = "mesh = \"write\"\npeering = \"read\"";
    if partition == Some(v062::DEFAULT_TENANCY) {
        format!("{base}\npartition_prefix \"\" {{\n\tpeering = \"read\"\n}}")
    } else {
        base.to_string()
    }
}

/// The two gateway policies to create, each with the role bound to it, then the
/// policy-less terminating gateway role: the order v0.10.0 sets them up in.
pub fn gateway_policies_and_roles(partition: Option<&str>) -> (Vec<AclPolicy>, Vec<AclRole>) {
    let policy = |name: &str, description: &str, rules: String| AclPolicy {
        name: name.to_string(),
        description: description.to_string(),
        rules,
        ..AclPolicy::default()
    };
    let role = |name: &str, description: &str, policy: Option<&str>| AclRole {
        name: name.to_string(),
        description: description.to_string(),
        policies: policy.map(AclLink::by_name).into_iter().collect(),
        ..AclRole::default()
    };
    (
        vec![
            policy(
                API_GATEWAY_POLICY,
                "API Gateway token Policy",
                api_gateway_policy_rules(partition.is_some()),
            ),
            policy(
                MESH_GATEWAY_POLICY,
                "Mesh Gateway token Policy",
                mesh_gateway_policy_rules(partition),
            ),
        ],
        vec![
            role(
                API_GATEWAY_ROLE,
                "API Gateway Role for ECS",
                Some(API_GATEWAY_POLICY),
            ),
            role(
                MESH_GATEWAY_ROLE,
                "Mesh Gateway Role for ECS",
                Some(MESH_GATEWAY_POLICY),
            ),
            role(
                TERMINATING_GATEWAY_ROLE,
                "Terminating Gateway Role for ECS",
                None,
            ),
        ],
    )
}

/// The auth method as v0.10 wants it: v0.6.2's service method (IAM entity details, the
/// namespace rule with partitions) trusting `bound_arns`, reading the three
/// [`ENTITY_TAGS`] plus any tags `existing_tags` already lists (v0.10 merges them, sorted
/// and de-duplicated, as it merges the ARNs).
pub fn auth_method(
    bound_arns: &[String],
    partitions: bool,
    existing_tags: &[String],
) -> AclAuthMethod {
    let mut method = v062::auth_method(AUTH_METHOD, bound_arns, partitions);
    let ours: Vec<String> = ENTITY_TAGS.iter().map(|t| t.to_string()).collect();
    method.config.insert(
        "IAMEntityTags".into(),
        json!(v062::merge_arns(existing_tags, &ours)),
    );
    method
}

/// `IAMEntityTags` of an existing method's config (strings only).
pub fn config_entity_tags(method: &AclAuthMethod) -> Vec<String> {
    method
        .config
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("IAMEntityTags"))
        .and_then(|(_, v)| v.as_array())
        .map(|tags| {
            tags.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// The four binding rules of [`AUTH_METHOD`], v0.10.0's exactly: a service identity named by
/// the service-name tag, and a role per gateway kind selected by the gateway-kind tag.
/// They are matched to existing rules by bind name and description.
pub fn binding_rules() -> Vec<AclBindingRule> {
    let role = |description: &str, kind: &str, role: &str| AclBindingRule {
        description: description.to_string(),
        auth_method: AUTH_METHOD.to_string(),
        selector: format!("entity_tags[\"{GATEWAY_KIND_TAG}\"] == \"{kind}\""),
        bind_type: "role".to_string(),
        bind_name: role.to_string(),
        ..AclBindingRule::default()
    };
    vec![
        v062::binding_rule(AUTH_METHOD),
        role(
            "Bind a Consul role from IAM role tag for ECS based API gateways",
            "api-gateway",
            API_GATEWAY_ROLE,
        ),
        role(
            "Bind a Consul role from IAM role tag for ECS based Terminating gateways",
            "terminating-gateway",
            TERMINATING_GATEWAY_ROLE,
        ),
        role(
            "Bind a Consul role from IAM role tag for ECS based mesh gateways",
            "mesh-gateway",
            MESH_GATEWAY_ROLE,
        ),
    ]
}

/// Whether an existing rule is `desired` (same name and description, the identity v0.10
/// matches by) and already binds the same way.
pub fn rule_matches(existing: &AclBindingRule, desired: &AclBindingRule) -> bool {
    existing.bind_name == desired.bind_name && existing.description == desired.description
}

/// Whether a matched rule needs an update: its type or selector differ.
pub fn rule_differs(existing: &AclBindingRule, desired: &AclBindingRule) -> bool {
    existing.bind_type != desired.bind_type || existing.selector != desired.selector
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules as v0.10.0's `text/template`s render them (TrimSpace, then `{{-` trimming
    /// the white space before each action), written out by hand from the templates.
    #[test]
    fn gateway_rules_are_v0_10_0_literally() {
        assert_eq!(
            api_gateway_policy_rules(false),
            "mesh = \"read\"\n\tnode_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n\tservice_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}"
        );
        assert_eq!(
            api_gateway_policy_rules(true),
            "mesh = \"read\"\nnamespace_prefix \"\" {\n\tnode_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n\tservice_prefix \"\" {\n\t\tpolicy = \"read\"\n\t}\n}"
        );
        assert_eq!(
            mesh_gateway_policy_rules(None),
            "mesh = \"write\"\npeering = \"read\""
        );
        assert_eq!(
            mesh_gateway_policy_rules(Some("part1")),
            "mesh = \"write\"\npeering = \"read\""
        );
        assert_eq!(
            mesh_gateway_policy_rules(Some("default")),
            "mesh = \"write\"\npeering = \"read\"\npartition_prefix \"\" {\n\tpeering = \"read\"\n}"
        );
    }

    #[test]
    fn names_and_descriptions() {
        let (policies, roles) = gateway_policies_and_roles(None);
        let policies: Vec<(&str, &str)> = policies
            .iter()
            .map(|p| (p.name.as_str(), p.description.as_str()))
            .collect();
        assert_eq!(
            policies,
            [
                ("consul-ecs-api-gateway-policy", "API Gateway token Policy"),
                (
                    "consul-ecs-mesh-gateway-policy",
                    "Mesh Gateway token Policy"
                ),
            ]
        );
        let roles: Vec<(&str, &str, Vec<&str>)> = roles
            .iter()
            .map(|r| {
                (
                    r.name.as_str(),
                    r.description.as_str(),
                    r.policies.iter().map(|l| l.name.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            roles,
            [
                (
                    "consul-ecs-api-gateway-role",
                    "API Gateway Role for ECS",
                    vec!["consul-ecs-api-gateway-policy"]
                ),
                (
                    "consul-ecs-mesh-gateway-role",
                    "Mesh Gateway Role for ECS",
                    vec!["consul-ecs-mesh-gateway-policy"]
                ),
                (
                    "consul-ecs-terminating-gateway-role",
                    "Terminating Gateway Role for ECS",
                    vec![]
                ),
            ]
        );
    }

    #[test]
    fn binding_rules_are_v0_10_0s() {
        let rules: Vec<(String, String, String, String)> = binding_rules()
            .into_iter()
            .map(|r| {
                assert_eq!(r.auth_method, "iam-ecs-service-token");
                (r.description, r.bind_type, r.bind_name, r.selector)
            })
            .collect();
        let row = |d: &str, t: &str, n: &str, s: &str| {
            (d.to_string(), t.to_string(), n.to_string(), s.to_string())
        };
        assert_eq!(
            rules,
            [
                row(
                    "Bind a service identity from IAM role tag for ECS",
                    "service",
                    "${entity_tags.consul.hashicorp.com.service-name}",
                    ""
                ),
                row(
                    "Bind a Consul role from IAM role tag for ECS based API gateways",
                    "role",
                    "consul-ecs-api-gateway-role",
                    "entity_tags[\"consul.hashicorp.com.gateway-kind\"] == \"api-gateway\""
                ),
                row(
                    "Bind a Consul role from IAM role tag for ECS based Terminating gateways",
                    "role",
                    "consul-ecs-terminating-gateway-role",
                    "entity_tags[\"consul.hashicorp.com.gateway-kind\"] == \"terminating-gateway\""
                ),
                row(
                    "Bind a Consul role from IAM role tag for ECS based mesh gateways",
                    "role",
                    "consul-ecs-mesh-gateway-role",
                    "entity_tags[\"consul.hashicorp.com.gateway-kind\"] == \"mesh-gateway\""
                ),
            ]
        );
    }

    #[test]
    fn auth_method_reads_three_tags_and_keeps_others() {
        let arns = vec![v062::bound_arn("111111111111", "consul-ecs")];
        let method = auth_method(&arns, false, &[]);
        assert_eq!(method.name, "iam-ecs-service-token");
        assert_eq!(
            method.description,
            "AWS IAM auth method for ECS service tokens"
        );
        assert_eq!(
            method.config["IAMEntityTags"],
            json!([
                "consul.hashicorp.com.gateway-kind",
                "consul.hashicorp.com.namespace",
                "consul.hashicorp.com.service-name"
            ])
        );
        assert_eq!(method.config["EnableIAMEntityDetails"], json!(true));
        assert_eq!(
            method.config["BoundIAMPrincipalARNs"],
            json!(["arn:aws:iam::111111111111:role/consul-ecs/*"])
        );
        // A v0.6.2 method (two tags) gains the gateway-kind tag; an operator's extra tag stays.
        let merged = auth_method(
            &arns,
            false,
            &["team".to_string(), SERVICE_NAME_TAG.to_string()],
        );
        assert_eq!(config_entity_tags(&merged).len(), 4);
        assert!(config_entity_tags(&merged).contains(&"team".to_string()));
        assert!(method.namespace_rules.is_empty());
        assert_eq!(auth_method(&arns, true, &[]).namespace_rules.len(), 1);
    }
}
