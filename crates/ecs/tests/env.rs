//! `MetadataClient::from_env`. Its own test binary with a single test, because it changes
//! the process environment.

use ecs::{EcsError, MetadataClient, METADATA_URI_ENV};
use testkit::ecs_metadata::{fargate_task, EcsMetadataEmulator};

#[tokio::test]
async fn from_env_requires_the_variable_and_uses_it() {
    std::env::remove_var(METADATA_URI_ENV);
    let err = MetadataClient::from_env().unwrap_err();
    assert!(matches!(err, EcsError::EnvNotSet), "{err:?}");
    assert_eq!(
        err.to_string(),
        "ECS_CONTAINER_METADATA_URI_V4 env var not set"
    );

    std::env::set_var(METADATA_URI_ENV, "  ");
    assert!(matches!(
        MetadataClient::from_env(),
        Err(EcsError::EnvNotSet)
    ));

    std::env::set_var(METADATA_URI_ENV, "::not a url::");
    let err = MetadataClient::from_env().unwrap_err();
    assert!(matches!(err, EcsError::InvalidUri { .. }), "{err:?}");

    let emu = EcsMetadataEmulator::start(fargate_task("api", &["api"]));
    std::env::set_var(METADATA_URI_ENV, emu.uri());
    let client = MetadataClient::from_env().unwrap();
    assert_eq!(client.base_uri(), emu.uri());
    assert_eq!(client.task().await.unwrap().family, "api");
    std::env::remove_var(METADATA_URI_ENV);
}
