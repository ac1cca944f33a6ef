output "task_definition_arn" {
  description = "ARN of the gateway's task definition."
  value       = module.task_definition.arn

  # The plan-time rules across inputs (upstream: preconditions of the task definition,
  # which now lives in ../../internal/task-definition). A failed one stops the plan.
  precondition {
    condition     = !var.enable_mesh_gateway_wan_federation || var.tls
    error_message = "enable_mesh_gateway_wan_federation needs tls."
  }
  precondition {
    condition     = !(var.wan_address != "" && var.lb_enabled)
    error_message = "Only one of wan_address and lb_enabled may be set."
  }
  precondition {
    condition     = !var.lb_enabled || length(var.lb_subnets) > 0
    error_message = "lb_subnets must be set when lb_enabled is true."
  }
  precondition {
    condition     = !var.lb_enabled || var.lb_vpc_id != ""
    error_message = "lb_vpc_id must be set when lb_enabled is true."
  }
  precondition {
    condition     = !(var.lb_enabled && var.lb_create_security_group && var.lb_modify_security_group)
    error_message = "Only one of lb_create_security_group and lb_modify_security_group may be true."
  }
  precondition {
    condition     = !var.lb_modify_security_group || var.lb_modify_security_group_id != ""
    error_message = "lb_modify_security_group_id must be set when lb_modify_security_group is true."
  }
  precondition {
    condition     = !var.lb_enabled || length(var.custom_load_balancer_config) == 0
    error_message = "custom_load_balancer_config can be set only when lb_enabled is false."
  }
  precondition {
    condition     = !var.enable_transparent_proxy || (length(var.requires_compatibilities) == 1 && contains(var.requires_compatibilities, "EC2"))
    error_message = "Transparent proxy works only on EC2: set requires_compatibilities = [\"EC2\"], or enable_transparent_proxy = false on Fargate."
  }
  precondition {
    condition     = !var.enable_consul_dns || var.enable_transparent_proxy
    error_message = "enable_consul_dns needs enable_transparent_proxy."
  }
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
