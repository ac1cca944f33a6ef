# Upstream's acl-controller has no outputs; these are additions.

output "task_definition_arn" {
  description = "ARN of the controller's task definition."
  value       = module.service.task_definition_arn
}

output "task_role_arn" {
  description = "ARN of the controller's task role."
  value       = module.service.task_role_arn
}
