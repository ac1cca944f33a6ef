//! Pure generator: resolved inputs to Envoy bootstrap JSON, identical to Consul's.
