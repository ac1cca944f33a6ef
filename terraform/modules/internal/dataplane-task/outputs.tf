output "containers" {
  description = "mesh-init, consul-dataplane and health-sync, in upstream's order."
  value       = local.containers
}

output "data_volume" {
  description = "Name of the task volume mounted at /consul (the dataplane configuration, the binary)."
  value       = local.data_volume
}

output "binary_volume" {
  description = "Name of the second task volume (kept from the v0.6 layout, as upstream)."
  value       = local.binary_volume
}

output "data_mount_ro" {
  description = "The read-only mount of the data volume at /consul."
  value       = local.data_mount_ro
}

output "dataplane_name" {
  description = "Name of the consul-dataplane container."
  value       = local.dataplane_name
}

output "encoded_config" {
  description = "CONSUL_ECS_CONFIG_JSON of mesh-init and health-sync."
  value       = local.encoded_config
}

output "task_tags" {
  description = "Tags of the task definition: the caller's, then the consul.hashicorp.com ones."
  value       = module.identity.task_tags
}

# The execution role reads exactly the secrets the task injects (upstream: every CA ARN
# given, in gateway-task even without TLS).
output "secret_arns" {
  description = "The Secrets Manager ARNs the containers get: what the execution role must read."
  value       = [for s in local.ca_secrets : s.valueFrom]
}
