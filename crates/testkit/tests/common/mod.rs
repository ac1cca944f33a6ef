//! Raw HTTP against the Consul emulator, shared by the emulator's test suites: they check
//! status codes and body texts, so they bypass every client library.

#![allow(dead_code)] // each test binary uses a different subset

use serde_json::Value;
use testkit::consul::ConsulEmulator;

/// A response: status and the body as text.
pub struct Answer {
    pub status: u16,
    pub body: String,
}

impl Answer {
    /// The body as JSON; panics with the text when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request with an optional `X-Consul-Token` and JSON body.
pub async fn call(
    consul: &ConsulEmulator,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    let url = format!("{}{path}", consul.http_addr());
    let mut req = reqwest::Client::new().request(method.parse().unwrap(), &url);
    if let Some(t) = token {
        req = req.header("X-Consul-Token", t);
    }
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    Answer {
        status: resp.status().as_u16(),
        body: resp.text().await.unwrap(),
    }
}
