output "containers" {
  description = "mesh-init, consul-client, sidecar-proxy and (when enabled) health-sync, in upstream's order."
  value       = local.containers
}

output "data_volume" {
  description = "Name of the task volume mounted at /consul (tokens, Envoy bootstrap)."
  value       = local.data_volume
}

output "binary_volume" {
  description = "Name of the task volume the consul binary is copied into."
  value       = local.binary_volume
}

output "data_mount_ro" {
  description = "The read-only mount of the data volume at /consul."
  value       = local.data_mount_ro
}

output "consul_ecs_user" {
  description = "The uid:gid of every container that reads the 0600 files in /consul."
  value       = local.consul_ecs_user
}

output "mesh_init_name" {
  description = "Name of the mesh-init container."
  value       = local.mesh_init_name
}

output "after_mesh_init" {
  description = "dependsOn entry: after mesh-init has exited 0."
  value       = local.after_mesh_init
}

output "sidecar_proxy_name" {
  description = "Name of the Envoy container."
  value       = local.sidecar_proxy_container.name
}

output "encoded_config" {
  description = "CONSUL_ECS_CONFIG_JSON of mesh-init and health-sync."
  value       = local.encoded_config
}

output "task_tags" {
  description = "Tags of the task definition: the caller's, then the consul.hashicorp.com ones."
  value       = module.identity.task_tags
}

output "secret_arns" {
  description = "The Secrets Manager ARNs the containers get (\"\" where none): what the execution role must read."
  value       = local.secret_arns
}
