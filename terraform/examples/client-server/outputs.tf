output "cluster_arn" {
  description = "ARN of the example's ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "client_task_definition_arn" {
  description = "ARN of the client's task definition."
  value       = module.client.task_definition_arn
}

output "server_task_definition_arn" {
  description = "ARN of the server's task definition."
  value       = module.server.task_definition_arn
}

output "client_task_tags" {
  description = "Tags the client's tasks carry (the acl-controller reads them)."
  value       = module.client.task_tags
}
