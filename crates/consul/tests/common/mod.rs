//! A tiny scripted HTTP server standing in for Consul in this crate's tests: it records
//! every request and answers from per-route queues of canned replies.

#![allow(dead_code)] // each test file uses a different subset

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// Raw (still percent-encoded) path.
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

#[derive(Clone, Debug)]
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
}

#[derive(Default)]
struct State_ {
    requests: Vec<Recorded>,
    // (method, path) -> replies; the last one is repeated once the others are used up.
    routes: HashMap<(String, String), VecDeque<Reply>>,
}

/// Handle of a running mock server.
#[derive(Clone)]
pub struct Mock {
    pub addr: SocketAddr,
    state: Arc<Mutex<State_>>,
}

impl Mock {
    pub async fn start() -> Mock {
        let state = Arc::new(Mutex::new(State_::default()));
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Mock { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queue a reply for `method path` (path without query, as sent on the wire).
    pub fn on(&self, method: &str, path: &str, status: u16, body: &str) -> &Self {
        self.on_delayed(method, path, status, body, Duration::ZERO)
    }

    pub fn on_delayed(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &str,
        delay: Duration,
    ) -> &Self {
        self.state
            .lock()
            .unwrap()
            .routes
            .entry((method.to_owned(), path.to_owned()))
            .or_default()
            .push_back(Reply {
                status,
                body: body.to_owned(),
                delay,
            });
        self
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    pub fn last(&self) -> Recorded {
        self.requests()
            .last()
            .cloned()
            .expect("the mock received no request")
    }

    pub fn clear(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

async fn handle(
    State(state): State<Arc<Mutex<State_>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let reply = {
        let mut st = state.lock().unwrap();
        st.requests.push(Recorded {
            method: method.to_string(),
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let key = (method.to_string(), uri.path().to_owned());
        match st.routes.get_mut(&key) {
            Some(q) if q.len() > 1 => q.pop_front(),
            Some(q) => q.front().cloned(),
            None => None,
        }
    };
    match reply {
        Some(r) => {
            if !r.delay.is_zero() {
                tokio::time::sleep(r.delay).await;
            }
            (StatusCode::from_u16(r.status).unwrap(), r.body).into_response()
        }
        None => (
            StatusCode::NOT_FOUND,
            format!("mock: no reply scripted for {method} {}", uri.path()),
        )
            .into_response(),
    }
}

/// A client for the mock with the given token source.
pub fn client(mock: &Mock, token: consul::TokenSource) -> consul::Client {
    let cfg = consul::ClientConfig::default()
        .with_address(&mock.url())
        .unwrap()
        .with_token(token)
        .with_timeout(Duration::from_secs(5));
    consul::Client::new(cfg).unwrap()
}
