//! IAM principal ARNs as consul-awsauth parses them (docs/protocols.md §3.8).

use crate::LoginError;

/// An IAM principal ARN split into the parts the aws-iam auth method uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalArn {
    /// `aws`, `aws-cn`, `aws-us-gov`, …
    pub partition: String,
    /// `iam` or `sts`.
    pub service: String,
    /// The 12-digit account ID.
    pub account_id: String,
    /// `user`, `role`, `assumed-role` or `instance-profile`.
    pub kind: String,
    /// The IAM path between type and name, without surrounding slashes (empty for
    /// assumed roles, which carry no path).
    pub path: String,
    /// The user or role name (for an assumed role: the role name, not the session).
    pub friendly_name: String,
    /// The session name of an assumed role.
    pub session_name: Option<String>,
}

impl PrincipalArn {
    /// Parses an ARN with consul-awsauth's rules: six `:`-separated parts starting with
    /// `arn`, a partition, service `iam` or `sts`, an account, and a resource of at least
    /// two `/`-separated parts (three for `assumed-role`).
    pub fn parse(arn: &str) -> Result<PrincipalArn, LoginError> {
        let bad = |reason: String| LoginError::Arn {
            arn: arn.to_string(),
            reason,
        };
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() != 6 {
            return Err(bad(format!(
                "contains {} colon-separated parts, expected 6",
                parts.len()
            )));
        }
        if parts[0] != "arn" {
            return Err(bad("does not begin with \"arn:\"".to_string()));
        }
        if parts[1].is_empty() {
            return Err(bad("missing the partition".to_string()));
        }
        if parts[2] != "iam" && parts[2] != "sts" {
            return Err(bad(format!(
                "unrecognized service {:?}, not one of iam or sts",
                parts[2]
            )));
        }
        if parts[4].is_empty() {
            return Err(bad("missing the account number".to_string()));
        }
        let resource: Vec<&str> = parts[5].split('/').collect();
        if resource.len() < 2 {
            return Err(bad(format!(
                "{:?} contains fewer than 2 slash-separated parts",
                parts[5]
            )));
        }
        let kind = resource[0];
        let (path, friendly_name, session_name) = match kind {
            "assumed-role" => {
                if resource.len() < 3 {
                    return Err(bad(format!(
                        "{:?} contains fewer than 3 slash-separated parts",
                        parts[5]
                    )));
                }
                (String::new(), resource[1], Some(resource[2].to_string()))
            }
            "user" | "role" | "instance-profile" => (
                resource[1..resource.len() - 1].join("/"),
                resource[resource.len() - 1],
                None,
            ),
            other => return Err(bad(format!("unrecognized principal type: {other:?}"))),
        };
        Ok(PrincipalArn {
            partition: parts[1].to_string(),
            service: parts[2].to_string(),
            account_id: parts[4].to_string(),
            kind: kind.to_string(),
            path,
            friendly_name: friendly_name.to_string(),
            session_name,
        })
    }

    /// The path-less IAM ARN Consul matches when entity details are off: an assumed role
    /// becomes `arn:<p>:iam::<acct>:role/<name>`.
    pub fn canonical(&self) -> String {
        let kind = if self.kind == "assumed-role" {
            "role"
        } else {
            self.kind.as_str()
        };
        format!(
            "arn:{}:iam::{}:{}/{}",
            self.partition, self.account_id, kind, self.friendly_name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_protocol_table() {
        let cases = [
            (
                "arn:aws:sts::123456789012:assumed-role/consul-ecs-web/0f3bca58",
                "assumed-role",
                "consul-ecs-web",
                "",
                "arn:aws:iam::123456789012:role/consul-ecs-web",
            ),
            (
                "arn:aws:iam::123456789012:role/consul-ecs/consul-ecs-web",
                "role",
                "consul-ecs-web",
                "consul-ecs",
                "arn:aws:iam::123456789012:role/consul-ecs-web",
            ),
            (
                "arn:aws:iam::123456789012:user/ops/alice",
                "user",
                "alice",
                "ops",
                "arn:aws:iam::123456789012:user/alice",
            ),
        ];
        for (input, kind, name, path, canonical) in cases {
            let arn = PrincipalArn::parse(input).unwrap();
            assert_eq!(arn.kind, kind, "{input}");
            assert_eq!(arn.friendly_name, name, "{input}");
            assert_eq!(arn.path, path, "{input}");
            assert_eq!(arn.account_id, "123456789012", "{input}");
            assert_eq!(arn.canonical(), canonical, "{input}");
        }
        let assumed = PrincipalArn::parse("arn:aws:sts::123456789012:assumed-role/r/sess").unwrap();
        assert_eq!(assumed.session_name.as_deref(), Some("sess"));
    }

    #[test]
    fn rejects_malformed_arns() {
        let cases = [
            ("arn:aws:iam::123456789012", "colon-separated"),
            ("nra:aws:iam::123456789012:user/a", "does not begin"),
            ("arn::iam::123456789012:user/a", "partition"),
            ("arn:aws:s3::123456789012:user/a", "not one of iam or sts"),
            ("arn:aws:iam:::user/a", "account"),
            ("arn:aws:iam::123456789012:user", "fewer than 2"),
            ("arn:aws:sts::123456789012:assumed-role/r", "fewer than 3"),
            ("arn:aws:iam::123456789012:group/g", "principal type"),
        ];
        for (input, want) in cases {
            let err = PrincipalArn::parse(input).unwrap_err().to_string();
            assert!(err.contains(want), "{input}: {err}");
        }
    }
}
