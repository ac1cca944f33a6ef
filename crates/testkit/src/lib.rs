//! Test emulators (Consul HTTP API, ECS task metadata) and helpers that start the real
//! components the tests use (moto, Envoy). Never linked into the shipped binary.
//!
//! A helper that cannot find a real component fails loudly: tests never skip silently.

pub mod aws;
pub mod consul;
pub mod ecs_metadata;
pub mod envoy;
pub mod moto;
pub mod paths;
