# acl-controller: one ECS service running `consul-ecs acl-controller`, which sets up the
# Consul auth methods, role and policy that mesh tasks log in with, and deletes the tokens
# of tasks that no longer run. As in terraform-aws-consul-ecs v0.6.2; differences are in
# README.md.

resource "aws_ecs_service" "this" {
  name            = "consul-acl-controller"
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 1
  launch_type     = var.launch_type
  # No ECS Exec: the task role grants only what the controller needs (upstream also
  # granted the ssmmessages actions, and its read-only root filesystem breaks exec anyway).
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = var.assign_public_ip
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = "${var.name_prefix}-consul-acl-controller"
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn

  container_definitions = jsonencode([
    {
      name                   = "consul-acl-controller"
      image                  = var.consul_ecs_image
      essential              = true
      readonlyRootFilesystem = true
      logConfiguration       = var.log_configuration
      command = concat(
        ["acl-controller", "-iam-role-path", var.iam_role_path],
        var.consul_partitions_enabled ? ["-partitions-enabled", "-partition", var.consul_partition] : [],
      )
      linuxParameters = { initProcessEnabled = true }
      secrets = concat(
        [{ name = "CONSUL_HTTP_TOKEN", valueFrom = var.consul_bootstrap_token_secret_arn }],
        var.consul_server_ca_cert_arn != "" ? [{ name = "CONSUL_CACERT_PEM", valueFrom = var.consul_server_ca_cert_arn }] : [],
      )
      environment = [{ name = "CONSUL_HTTP_ADDR", value = var.consul_server_http_addr }]
    },
  ])
}

locals {
  ecs_tasks_trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

# The controller lists and describes the tasks of its cluster, nothing else.
resource "aws_iam_role" "task" {
  name               = "${var.name_prefix}-consul-acl-controller-task"
  assume_role_policy = local.ecs_tasks_trust_policy
}

resource "aws_iam_role_policy" "task" {
  name = "consul-acl-controller"
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
  name               = "${var.name_prefix}-consul-acl-controller-execution"
  path               = "/ecs/"
  assume_role_policy = local.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  name        = "${var.name_prefix}-consul-acl-controller-execution"
  path        = "/ecs/"
  description = "Lets ECS start the Consul ACL controller: its secrets and its logs."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = ["secretsmanager:GetSecretValue"]
        Resource = compact([var.consul_bootstrap_token_secret_arn, var.consul_server_ca_cert_arn])
      },
      {
        Effect   = "Allow"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Resource = [try("arn:${data.aws_partition.current.partition}:logs:${var.log_configuration.options["awslogs-region"]}:*:log-group:${var.log_configuration.options["awslogs-group"]}:log-stream:*", "*")]
      },
    ]
  })
}

data "aws_partition" "current" {}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.id
  policy_arn = aws_iam_policy.execution.arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = length(var.additional_execution_role_policies)
  role       = aws_iam_role.execution.id
  policy_arn = var.additional_execution_role_policies[count.index]
}
