//! HTTP client for the task metadata endpoint: per-request timeout, bounded retries with
//! jittered backoff (v0.6.2 has neither: a hung endpoint hangs it forever) and a bounded
//! answer body (an endless one would take the process's memory).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use boundary::error_chain;
use retry::RetryPolicy;

use crate::metadata::{Container, TaskMetadata};
use crate::EcsError;

/// The environment variable the ECS agent sets to the metadata base URL of the container.
pub const METADATA_URI_ENV: &str = "ECS_CONTAINER_METADATA_URI_V4";

/// Default per-request timeout. The endpoint is local to the host and answers in
/// milliseconds; five seconds only trips when something is really wrong.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many characters of an error response body go into [`EcsError::Status`].
const BODY_EXCERPT_CHARS: usize = 200;

/// Largest error body read: only its first [`BODY_EXCERPT_CHARS`] characters are kept.
const ERROR_BODY_LIMIT: u64 = 64 << 10;

/// Largest task metadata document read. A task's document is a few KiB per container; a
/// body past this is not task metadata, and reading on would let the endpoint (or anything
/// answering in its place) take the process's memory.
pub const BODY_LIMIT: u64 = 1 << 20;

/// The retry policy a [`MetadataClient`] starts with: three attempts, 200 ms then 400 ms
/// apart (each jittered to 50–100 % so tasks restarted together do not hit the endpoint in
/// lockstep), so a transient glitch costs well under a second and a dead endpoint fails
/// within a few timeouts. No deadline: the attempt cap bounds it, and each attempt is
/// bounded by the request timeout.
pub const DEFAULT_RETRY_POLICY: RetryPolicy = RetryPolicy {
    initial: Duration::from_millis(200),
    max: Duration::from_secs(2),
    multiplier: 2.0,
    jitter: retry::Jitter::Equal,
    deadline: Duration::MAX,
    max_attempts: Some(3),
};

impl retry::Retryable for EcsError {
    fn is_retryable(&self) -> bool {
        EcsError::is_retryable(self)
    }
}

/// Reads task metadata from `${ECS_CONTAINER_METADATA_URI_V4}`.
#[derive(Debug, Clone)]
pub struct MetadataClient {
    base_uri: String,
    /// `<base>/task` and `<base>`, parsed once: health-sync asks every second, and parsing
    /// a URL (with its IDNA host processing) was a tenth of a poll's instructions.
    task_url: reqwest::Url,
    container_url: reqwest::Url,
    /// `<base>/task` as errors name it.
    task_url_text: String,
    /// Made at the first request, not with the client: envoy-entrypoint holds a client
    /// from its start but asks only after SIGTERM, and an idle entrypoint should not carry
    /// an HTTP client's set-up (the TLS configuration included) in its memory until then.
    /// Shared by clones, so it is made once.
    http: Arc<OnceLock<reqwest::Client>>,
    timeout: Duration,
    retry: RetryPolicy,
}

impl MetadataClient {
    /// A client for the URI in `ECS_CONTAINER_METADATA_URI_V4`; [`EcsError::EnvNotSet`] when
    /// it is unset or empty.
    pub fn from_env() -> Result<Self, EcsError> {
        match std::env::var(METADATA_URI_ENV) {
            Ok(uri) if !uri.trim().is_empty() => MetadataClient::new(uri.trim()),
            _ => Err(EcsError::EnvNotSet),
        }
    }

    /// A client for a metadata base URI such as `http://169.254.170.2/v4/<id>`, with the
    /// default timeout and retry policy.
    pub fn new(base_uri: impl Into<String>) -> Result<Self, EcsError> {
        let uri = base_uri.into();
        let parsed = reqwest::Url::parse(&uri).map_err(|e| EcsError::InvalidUri {
            uri: uri.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EcsError::InvalidUri {
                uri,
                reason: format!("scheme {:?} is not http or https", parsed.scheme()),
            });
        }
        let base_uri = uri.trim_end_matches('/').to_string();
        let parse = |text: String| {
            reqwest::Url::parse(&text).map_err(|e| EcsError::InvalidUri {
                uri: text.clone(),
                reason: e.to_string(),
            })
        };
        Ok(MetadataClient {
            task_url: parse(format!("{base_uri}/task"))?,
            task_url_text: format!("{base_uri}/task"),
            container_url: parse(base_uri.clone())?,
            base_uri,
            http: Arc::new(OnceLock::new()),
            timeout: DEFAULT_TIMEOUT,
            retry: DEFAULT_RETRY_POLICY,
        })
    }

    /// Sets the per-request timeout (connect to last body byte).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the retry policy used by [`MetadataClient::task`] and
    /// [`MetadataClient::container`] (attempt cap, backoff, jitter and deadline as given;
    /// `max_attempts: Some(1)` makes one attempt). Without one, [`DEFAULT_RETRY_POLICY`].
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The base URI, without a trailing `/`.
    pub fn base_uri(&self) -> &str {
        &self.base_uri
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// `GET <base>/task`, retried per the policy. When more than one attempt failed
    /// retryably (attempt cap or deadline reached) the error is [`EcsError::RetriesExhausted`]
    /// wrapping the last one; a final error (4xx, bad JSON, an oversized body) is returned
    /// as it is.
    pub async fn task(&self) -> Result<TaskMetadata, EcsError> {
        self.with_retries(|| self.task_once()).await
    }

    /// `GET <base>/task`, one attempt: for pollers that run their own loop.
    pub async fn task_once(&self) -> Result<TaskMetadata, EcsError> {
        self.get_json(&self.task_url, &self.task_url_text).await
    }

    /// `GET <base>`: the calling container's own metadata, retried per the policy.
    pub async fn container(&self) -> Result<Container, EcsError> {
        self.with_retries(|| self.get_json(&self.container_url, &self.base_uri))
            .await
    }

    async fn with_retries<T, F, Fut>(&self, attempt_once: F) -> Result<T, EcsError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, EcsError>>,
    {
        retry::retry(&self.retry, "read the task metadata", attempt_once)
            .await
            .map_err(|e| match e.reason {
                // A single attempt reports the error itself, as does a final one.
                retry::GaveUp::MaxAttempts | retry::GaveUp::Deadline if e.attempts > 1 => {
                    EcsError::RetriesExhausted {
                        attempts: e.attempts,
                        last: Box::new(e.last),
                    }
                }
                _ => e.last,
            })
    }

    /// The HTTP client, made now if this is the first request. Its set-up depends on
    /// nothing outside the program (no proxy, the built-in TLS roots), so where it fails it
    /// fails on every first request alike, as a final error.
    fn http(&self) -> Result<&reqwest::Client, Failure> {
        if let Some(http) = self.http.get() {
            return Ok(http);
        }
        // The endpoint is link-local to the task: an HTTP(S)_PROXY meant for the internet
        // must never see these requests (the AWS SDKs bypass proxies for it too).
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| Failure::Client(error_chain(&e)))?;
        Ok(self.http.get_or_init(|| http))
    }

    /// `GET <base>/task`, one attempt, decoding the answer only when its bytes differ from
    /// the last answer `last` holds; the same bytes give the task decoded then. An idle task's
    /// document is the same at every poll, and decoding its few KiB was most of health-sync's
    /// work per poll. `last` is left empty when the answer cannot be decoded.
    pub async fn task_once_cached<'a>(
        &self,
        last: &'a mut Option<LastTask>,
    ) -> Result<&'a TaskMetadata, EcsError> {
        let body = self.get_body(&self.task_url, &self.task_url_text).await?;
        let read = match last.take() {
            Some(previous) if previous.body == body => previous,
            previous => LastTask {
                task: decode(&body, &self.task_url_text)?,
                body,
                decodes: previous.map_or(0, |p| p.decodes) + 1,
            },
        };
        Ok(&last.insert(read).task)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        target: &reqwest::Url,
        as_given: &str,
    ) -> Result<T, EcsError> {
        let body = self.get_body(target, as_given).await?;
        decode(&body, as_given)
    }

    /// The body of a success answer to `GET target`; any other answer is an error naming
    /// the URL as given.
    async fn get_body(&self, target: &reqwest::Url, as_given: &str) -> Result<Vec<u8>, EcsError> {
        // Errors name the URL as it was given (Url's own form may add a `/`); the text is
        // made only on an error path.
        let url = || as_given.to_string();
        let request = async {
            let response = self
                .http()?
                .get(target.clone())
                .send()
                .await
                .map_err(Failure::Transport)?;
            let status = response.status();
            // An error body only goes into the message as an excerpt, so a small read does;
            // its status alone decides what happens next.
            let limit = if status.is_success() {
                BODY_LIMIT
            } else {
                ERROR_BODY_LIMIT
            };
            match boundary::read_body(response, limit).await {
                Ok(body) => Ok((status, body)),
                Err(boundary::ReadError::Body(e)) => Err(Failure::Transport(e)),
                Err(e) if status.is_success() => Err(Failure::TooLarge(e)),
                Err(_) => Ok((
                    status,
                    format!("(an error body larger than {ERROR_BODY_LIMIT} bytes, not read)")
                        .into_bytes(),
                )),
            }
        };
        // A whole-request deadline (rather than reqwest's) lets a timeout be reported as
        // its own error kind without inspecting reqwest's error internals.
        let (status, body) = match tokio::time::timeout(self.timeout, request).await {
            Err(_) => {
                return Err(EcsError::Timeout {
                    url: url(),
                    timeout: self.timeout,
                })
            }
            Ok(Err(Failure::Client(detail))) => return Err(EcsError::Client(detail)),
            Ok(Err(Failure::Transport(e))) => {
                return Err(EcsError::Transport {
                    url: url(),
                    detail: error_chain(&e),
                })
            }
            Ok(Err(Failure::TooLarge(source))) => {
                return Err(EcsError::BodyTooLarge {
                    url: url(),
                    limit: BODY_LIMIT,
                    source,
                })
            }
            Ok(Ok(answer)) => answer,
        };
        if !status.is_success() {
            return Err(EcsError::Status {
                url: url(),
                status: status.as_u16(),
                body: boundary::one_line_excerpt(&body, BODY_EXCERPT_CHARS),
            });
        }
        Ok(body)
    }
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8], url: &str) -> Result<T, EcsError> {
    serde_json::from_slice(body).map_err(|e| EcsError::Decode {
        url: url.to_string(),
        message: e.to_string(),
    })
}

/// The last task document a poller read ([`MetadataClient::task_once_cached`]): its bytes
/// and the task they decode to.
#[derive(Debug)]
pub struct LastTask {
    body: Vec<u8>,
    task: TaskMetadata,
    decodes: u64,
}

impl LastTask {
    /// How many answers were decoded into this `LastTask`, the first included: the polls
    /// that read a changed document (an answer that cannot be decoded empties the poller's
    /// `Option`, and the count starts again).
    pub fn decodes(&self) -> u64 {
        self.decodes
    }
}

/// Why a request got no usable answer, before it becomes an [`EcsError`] naming the URL.
enum Failure {
    /// The HTTP client could not be made.
    Client(String),
    /// Sending or reading failed (refused, reset).
    Transport(reqwest::Error),
    /// A success answer's body passed [`BODY_LIMIT`].
    TooLarge(boundary::ReadError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_rejects_non_http_uris() {
        assert!(matches!(
            MetadataClient::new("not a uri"),
            Err(EcsError::InvalidUri { .. })
        ));
        let err = MetadataClient::new("ftp://169.254.170.2/v4/x").unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
        let ok = MetadataClient::new("http://169.254.170.2/v4/abc/").unwrap();
        assert_eq!(ok.base_uri(), "http://169.254.170.2/v4/abc");
    }
}
