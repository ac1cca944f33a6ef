# ecs-iam (internal): the IAM policy documents every consul-ecs task module gives its roles,
# written once: the ECS tasks trust policy, iam:GetRole on the task's own role (for the
# Consul aws-iam login), and the execution policy (the injected secrets and the logs).
# It creates no resource; the roles and policies stay in the public modules.

variable "secret_arns" {
  description = "Secrets Manager ARNs the task definition injects (\"\" entries and repeats are dropped)."
  type        = list(string)
}

variable "log_configuration" {
  description = "The containers' ECS logConfiguration (null or {} when none)."
  type        = any
}

variable "family" {
  description = "The task definition family, for the policies' descriptions."
  type        = string
}

variable "task_kind" {
  description = "\"task\" or \"gateway\": how the descriptions name the task."
  type        = string
}

variable "task_role_arn" {
  description = "ARN of the task role, for the iam:GetRole policy on itself."
  type        = string
}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  secret_arns = distinct(compact(var.secret_arns))

  # Logs go to the awslogs group named in log_configuration when there is one; otherwise
  # the module cannot know the group and allows any (upstream always allows any).
  log_group_name      = try(var.log_configuration.options["awslogs-group"], "")
  log_group_region    = try(var.log_configuration.options["awslogs-region"], data.aws_region.current.name)
  log_stream_resource = local.log_group_name != "" ? "arn:${data.aws_partition.current.partition}:logs:${local.log_group_region}:*:log-group:${local.log_group_name}:log-stream:*" : "*"
}

output "ecs_tasks_trust_policy" {
  description = "Trust policy of a task or execution role: ecs-tasks.amazonaws.com may assume it."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# The login to Consul's aws-iam auth method has the servers call iam:GetRole on the task's
# own role; nothing else.
output "task_policy" {
  description = "Policy document of the task role with ACLs: iam:GetRole on itself."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:GetRole"]
      Resource = [var.task_role_arn]
    }]
  })
}

output "execution_policy" {
  description = "Policy document of the execution role: the injected secrets and the logs."
  value = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      length(local.secret_arns) > 0 ? [{
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = local.secret_arns
      }] : [],
      [{
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = [local.log_stream_resource]
      }],
    )
  })
}

output "task_policy_description" {
  description = "Description of the task policy."
  value       = "Lets the ${var.family} ${var.task_kind} read its own IAM role for the Consul login."
}

output "execution_policy_description" {
  description = "Description of the execution policy."
  value       = "Lets ECS start the ${var.family} ${var.task_kind}: its secrets and its logs."
}
