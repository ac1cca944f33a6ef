output "task_definition_arn" {
  description = "ARN of the task definition."
  value       = module.task_definition.arn
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
