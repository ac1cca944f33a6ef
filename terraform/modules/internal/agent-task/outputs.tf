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
  value       = local.task_tags
}

output "role_tags" {
  description = "Tags of the task role, which Consul's aws-iam auth method reads (dots, not slashes: IAM tag keys)."
  value = {
    "consul.hashicorp.com.service-name" = var.service_name
    "consul.hashicorp.com.namespace"    = var.consul_namespace
  }
}

output "ecs_tasks_trust_policy" {
  description = "Trust policy of both roles: ecs-tasks.amazonaws.com may assume them."
  value       = module.iam.ecs_tasks_trust_policy
}

output "task_policy" {
  description = "Policy document of the task role with ACLs: iam:GetRole on itself."
  value       = module.iam.task_policy
}

output "task_policy_description" {
  description = "Description of the task policy."
  value       = module.iam.task_policy_description
}

output "execution_policy" {
  description = "Policy document of the execution role: the injected secrets and the logs."
  value       = module.iam.execution_policy
}

output "execution_policy_description" {
  description = "Description of the execution policy."
  value       = module.iam.execution_policy_description
}
