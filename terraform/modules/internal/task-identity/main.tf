# task-identity (internal): how AWS and Consul tell a consul-ecs task apart, written once for
# every task module: the task definition tags (which the controllers and operators read),
# the task role tags (which Consul's aws-iam auth method reads), and the IAM policy
# documents (the ECS tasks trust policy, iam:GetRole on the task's own role for the Consul
# login, the execution policy: the injected secrets and the logs).
# It creates no resource.

variable "family" {
  description = "The task definition family, for the policies' descriptions."
  type        = string
}

variable "task_kind" {
  description = "\"task\" or \"gateway\": how the descriptions name the task."
  type        = string
}

variable "service_name" {
  description = "The Consul service (or gateway) name."
  type        = string
  default     = ""
}

variable "consul_namespace" {
  description = "Enterprise namespace, or \"\"."
  type        = string
  default     = ""
}

variable "consul_partition" {
  description = "Enterprise admin partition, or \"\"."
  type        = string
  default     = ""
}

variable "module_version" {
  description = "The upstream module version the task tags name (0.6.2 or 0.10.0)."
  type        = string
  default     = ""
}

variable "tags" {
  description = "The caller's task definition tags; the consul.hashicorp.com ones win."
  type        = map(string)
  default     = {}
}

variable "role_tags" {
  description = "Task role tags besides service-name and namespace (a gateway's kind)."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Secrets Manager ARNs the task definition injects (\"\" entries and repeats are dropped)."
  type        = list(string)
  default     = []
}

variable "log_configuration" {
  description = "The containers' ECS logConfiguration (null or {} when none)."
  type        = any
  default     = null
}

variable "task_role_arn" {
  description = "ARN of the task role, for the iam:GetRole policy on itself."
  type        = string
  default     = ""
}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  partition_tag = var.consul_partition != "" ? { "consul.hashicorp.com/partition" = var.consul_partition } : {}
  namespace_tag = var.consul_namespace != "" ? { "consul.hashicorp.com/namespace" = var.consul_namespace } : {}

  secret_arns = distinct(compact(var.secret_arns))

  # Logs go to the awslogs group named in log_configuration when there is one; otherwise
  # the module cannot know the group and allows any (upstream always allows any).
  log_group_name      = try(var.log_configuration.options["awslogs-group"], "")
  log_group_region    = try(var.log_configuration.options["awslogs-region"], data.aws_region.current.name)
  log_stream_resource = local.log_group_name != "" ? "arn:${data.aws_partition.current.partition}:logs:${local.log_group_region}:*:log-group:${local.log_group_name}:log-stream:*" : "*"
}

output "task_tags" {
  description = "Tags of the task definition: the caller's, then the consul.hashicorp.com ones."
  value = merge(
    var.tags,
    {
      "consul.hashicorp.com/mesh"           = "true"
      "consul.hashicorp.com/service-name"   = var.service_name
      "consul.hashicorp.com/module"         = "terraform-aws-consul-ecs"
      "consul.hashicorp.com/module-version" = var.module_version
    },
    local.partition_tag,
    local.namespace_tag,
  )
}

output "role_tags" {
  description = "Tags of the task role, which Consul's aws-iam auth method reads (dots, not slashes: IAM tag keys)."
  value = merge(var.role_tags, {
    "consul.hashicorp.com.service-name" = var.service_name
    "consul.hashicorp.com.namespace"    = var.consul_namespace
  })
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
