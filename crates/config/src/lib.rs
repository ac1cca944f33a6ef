//! consul-ecs v0.6.2 configuration: model, defaults and validation with JSON-path errors.
