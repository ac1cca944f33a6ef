output "task_definition_arn" {
  description = "ARN of the gateway's task definition."
  value       = module.task_definition.arn
}

output "task_role_id" {
  description = "ID (name) of the gateway's task role."
  value       = module.roles.task_role_id
}

output "execution_role_id" {
  description = "ID (name) of the gateway's execution role."
  value       = module.roles.execution_role_id
}

output "task_role_arn" {
  description = "ARN of the gateway's task role."
  value       = module.roles.task_role_arn
}

output "execution_role_arn" {
  description = "ARN of the gateway's execution role."
  value       = module.roles.execution_role_arn
}

output "task_tags" {
  description = "Every tag of the task definition, the provider's default tags included."
  value       = module.task_definition.tags_all
}

output "wan_address" {
  description = "The gateway's WAN address: the load balancer's DNS name with lb_enabled, else wan_address."
  value       = local.wan_address
}

output "wan_port" {
  description = "The gateway's WAN port."
  value       = local.wan_port
}

output "lb_security_group_id" {
  description = "The security group created for the load balancer traffic, or null."
  value       = module.lb.security_group_id
}
