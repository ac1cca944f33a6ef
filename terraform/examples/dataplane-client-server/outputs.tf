output "cluster_arn" {
  description = "ARN of the example's ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "task_definition_arns" {
  description = "ARNs of the client's and the server's task definitions."
  value       = { for name, app in module.app : name => app.task_definition_arn }
}
