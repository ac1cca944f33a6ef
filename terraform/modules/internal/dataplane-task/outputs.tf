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
  value       = local.task_tags
}

output "role_tags" {
  description = "Tags of the task role, which Consul's aws-iam auth method reads (dots: IAM tag keys)."
  value       = local.role_tags
}

output "ecs_tasks_trust_policy" {
  description = "Trust policy of both roles."
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
