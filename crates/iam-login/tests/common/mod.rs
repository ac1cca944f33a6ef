//! Shared helpers for the tests that run against real moto. The AWS side (moto, an admin
//! user `alice` at `/ops/`, the tagged role `consul-ecs-web` at `/consul-ecs/` and its
//! assumed credentials) is testkit's `AwsWorld`; what is left here replays the requests a
//! bearer token carries, as a Consul server would, so moto checks their signatures.

#![allow(dead_code, unused_imports)] // each test binary uses a different subset

use std::collections::BTreeMap;

use iam_login::DecodedToken;
pub use testkit::aws::{xml_text, AwsWorld, REGION};

/// The role `world()` creates.
pub const ROLE: &str = "consul-ecs-web";

/// A response as the tests look at it.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// moto with the role for service `web` (see testkit::aws).
pub async fn world() -> AwsWorld {
    AwsWorld::start_async("web").await
}

/// The world's task-role credentials.
pub fn role_creds(world: &AwsWorld) -> iam_login::Credentials {
    world.credentials(world.task_role())
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = response.text().await.unwrap();
    Reply {
        status,
        content_type,
        body,
    }
}

/// Replays the STS request a bearer token describes, as the Consul server does: to
/// `target` (the method's STSEndpoint, or the token URL), with `Host` forced to the token
/// URL's host and every token header copied.
pub async fn replay_sts(token: &DecodedToken, target: &str) -> Reply {
    let host = url::Url::parse(&token.url).unwrap();
    let host = match host.port() {
        Some(port) => format!("{}:{port}", host.host_str().unwrap()),
        None => host.host_str().unwrap().to_string(),
    };
    send(target, &host, &token.headers, &token.body).await
}

/// Replays the embedded GetRole/GetUser request to moto with `Host: iam.amazonaws.com`.
pub async fn replay_entity(token: &DecodedToken, moto_endpoint: &str) -> Reply {
    assert_eq!(token.header("X-Consul-Iam-Getentity-Method"), Some("POST"));
    let url = url::Url::parse(token.header("X-Consul-Iam-Getentity-Url").unwrap()).unwrap();
    let headers: BTreeMap<String, Vec<String>> =
        serde_json::from_str(token.header("X-Consul-Iam-Getentity-Headers").unwrap()).unwrap();
    let body = token.header("X-Consul-Iam-Getentity-Body").unwrap();
    send(
        &format!("{moto_endpoint}/"),
        url.host_str().unwrap(),
        &headers,
        body,
    )
    .await
}

async fn send(
    target: &str,
    host: &str,
    headers: &BTreeMap<String, Vec<String>>,
    body: &str,
) -> Reply {
    let mut request = reqwest::Client::new()
        .post(target)
        .header("host", host)
        .body(body.to_string());
    for (name, values) in headers {
        if name == "Content-Length" {
            continue;
        }
        for value in values {
            request = request.header(name.as_str(), value.as_str());
        }
    }
    reply(request.send().await.unwrap()).await
}
