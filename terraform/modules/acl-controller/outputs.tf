# Upstream's acl-controller has no outputs; these are additions.

output "task_definition_arn" {
  description = "ARN of the controller's task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the controller's task role."
  value       = aws_iam_role.task.arn
}
