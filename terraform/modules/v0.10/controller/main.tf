# controller (v0.10): one ECS service running `consul-ecs controller`, configured by the
# `controller` block of CONSUL_ECS_CONFIG_JSON: it sets up the auth method, binding rules,
# gateway roles and policies the tasks log in with, registers the cluster's node, and
# removes the tokens and services of tasks that no longer run. As terraform-aws-consul-ecs
# v0.10.0's modules/controller; differences are in README.md.

locals {
  name = "consul-ecs-controller"

  config = {
    bootstrapDir  = "/consul" # only because the schema requires it; the controller writes nothing
    consulServers = module.servers.config
    controller = {
      iamRolePath       = var.iam_role_path
      partitionsEnabled = var.consul_partitions_enabled
      partition         = var.consul_partitions_enabled ? var.consul_partition : ""
    }
  }

  secrets = concat(
    [{ name = "CONSUL_HTTP_TOKEN", valueFrom = var.consul_bootstrap_token_secret_arn }],
    # The gRPC CA before the HTTPS one, in upstream's order (a different order would be a
    # new task definition revision for an upstream user).
    reverse(module.servers.ca_secrets),
  )
}

module "servers" {
  source = "../../internal/consul-servers"

  hosts                    = var.consul_server_hosts
  skip_server_watch        = var.skip_server_watch
  tls                      = var.tls
  tls_server_name          = var.tls_server_name
  http_config              = var.http_config
  grpc_config              = var.grpc_config
  consul_ca_cert_arn       = var.consul_ca_cert_arn
  consul_https_ca_cert_arn = var.consul_https_ca_cert_arn
  consul_grpc_ca_cert_arn  = var.consul_grpc_ca_cert_arn
  # As upstream: the controller gets a CA whenever one is given, with or without tls.
  ca_secrets_only_with_tls = false
}

resource "aws_ecs_service" "this" {
  name            = local.name
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 1
  launch_type     = var.launch_type
  # No ECS Exec: the task role grants only what the controller needs (upstream also
  # granted the ssmmessages actions).
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = var.assign_public_ip
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name_prefix}-${local.name}"
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  container_definitions = jsonencode([
    {
      name                   = local.name
      image                  = var.consul_ecs_image
      essential              = true
      readonlyRootFilesystem = true
      logConfiguration       = var.log_configuration
      command                = ["controller"]
      linuxParameters        = { initProcessEnabled = true }
      environment            = [{ name = "CONSUL_ECS_CONFIG_JSON", value = jsonencode(local.config) }]
      secrets                = local.secrets
    },
  ])
}

module "identity" {
  source = "../../internal/task-identity"

  family            = var.name_prefix
  task_kind         = "controller"
  secret_arns       = [for s in local.secrets : s.valueFrom]
  log_configuration = var.log_configuration
}

# The controller lists and describes the tasks of its cluster, nothing else.
resource "aws_iam_role" "task" {
  name               = "${var.name_prefix}-${local.name}-task"
  assume_role_policy = module.identity.ecs_tasks_trust_policy
}

resource "aws_iam_role_policy" "task" {
  name = local.name
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ecs:ListTasks", "ecs:DescribeTasks"]
      Resource = ["*"]
      # Only the tasks of the controller's own cluster.
      Condition = { ArnEquals = { "ecs:cluster" = var.ecs_cluster_arn } }
    }]
  })
}

resource "aws_iam_role" "execution" {
  name               = "${var.name_prefix}-${local.name}-execution"
  path               = "/ecs/"
  assume_role_policy = module.identity.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  name        = "${var.name_prefix}-${local.name}-execution"
  path        = "/ecs/"
  description = "Lets ECS start the Consul ECS controller: its secrets and its logs."
  policy      = module.identity.execution_policy
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.id
  policy_arn = aws_iam_policy.execution.arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = length(var.additional_execution_role_policies)
  role       = aws_iam_role.execution.id
  policy_arn = var.additional_execution_role_policies[count.index]
}

output "task_definition_arn" {
  description = "ARN of the controller's task definition (upstream has no outputs)."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the controller's task role (upstream has no outputs)."
  value       = aws_iam_role.task.arn
}
