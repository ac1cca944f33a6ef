//! The HTTPS client every AWS SDK call goes through.
//!
//! The SDK's default client is rustls with the aws-lc-rs crypto provider; reqwest (task
//! metadata, Consul) and tonic (Consul's gRPC) use rustls with ring. Two providers in one
//! binary cost its size, its build time and pages at run time for nothing, so the SDK's
//! default is not compiled in and every SDK config (credential chain, region chain, ECS, IAM)
//! is given this one. Certificates: the platform's root store, as the SDK's default does.

use aws_config::environment::EnvironmentVariableRegionProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::ProfileFileRegionProvider;
use aws_config::provider_config::ProviderConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::Builder;

pub use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client for AWS SDK configs: rustls with the ring provider. Cheap to build: the
/// connector (and the root store it reads) is made on the first request.
pub fn aws_http_client() -> SharedHttpClient {
    Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// What aws-config's providers (credentials, region) build their own calls with: this
/// HTTPS client.
pub fn provider_config() -> ProviderConfig {
    ProviderConfig::default().with_http_client(aws_http_client())
}

/// aws-config's default region chain (environment, profile files, instance metadata) over
/// `providers`. aws-config's own `DefaultRegionChain` cannot be given a provider config, and
/// without one its instance-metadata step would have no HTTP client.
pub fn default_region_chain(providers: &ProviderConfig) -> RegionProviderChain {
    RegionProviderChain::first_try(EnvironmentVariableRegionProvider::new())
        .or_else(
            ProfileFileRegionProvider::builder()
                .configure(providers)
                .build(),
        )
        .or_else(ImdsRegionProvider::builder().configure(providers).build())
}
