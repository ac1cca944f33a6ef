output "task_definition_arn" {
  description = "ARN of the task definition."
  value       = module.task_definition.arn

  # The plan-time rules across inputs (upstream: preconditions of the task definition,
  # which now lives in ../../internal/task-definition). A failed one stops the plan.
  precondition {
    condition     = var.outbound_only || var.port != 0
    error_message = "port must be set unless outbound_only is true."
  }
  precondition {
    condition     = var.envoy_public_listener_port != var.envoy_readiness_port
    error_message = "envoy_public_listener_port and envoy_readiness_port must differ."
  }
  precondition {
    condition     = var.consul_partition == "" || var.consul_namespace != ""
    error_message = "consul_namespace must be set when consul_partition is."
  }
  precondition {
    condition     = var.consul_namespace == "" || var.consul_partition != ""
    error_message = "consul_partition must be set when consul_namespace is."
  }
  precondition {
    condition     = var.create_task_role || length(var.additional_task_role_policies) == 0
    error_message = "additional_task_role_policies cannot be set when create_task_role is false."
  }
  precondition {
    condition     = var.create_execution_role || length(var.additional_execution_role_policies) == 0
    error_message = "additional_execution_role_policies cannot be set when create_execution_role is false."
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
  description = "ID (name) of the task role, created or passed."
  value       = local.task_role_id
}

output "execution_role_id" {
  description = "ID (name) of the execution role, created or passed."
  value       = local.execution_role_id
}

output "task_role_arn" {
  description = "ARN of the task role, created or passed."
  value       = local.task_role_arn
}

output "execution_role_arn" {
  description = "ARN of the execution role, created or passed."
  value       = local.execution_role_arn
}

output "task_tags" {
  description = "Every tag of the task definition, the provider's default tags included."
  value       = module.task_definition.tags_all
}
