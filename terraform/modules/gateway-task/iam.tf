# The gateway's task and execution roles; a gateway always gets its own.

locals {
  ecs_tasks_trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  # Every secret the task definition injects. Upstream forgot the HTTPS CA (it is often the
  # same secret as the server CA, and then this changes nothing).
  secret_arns = distinct(compact([
    var.tls ? var.consul_server_ca_cert_arn : "",
    var.consul_https_ca_cert_arn,
    var.gossip_key_secret_arn,
  ]))

  log_group_name      = try(var.log_configuration.options["awslogs-group"], "")
  log_group_region    = try(var.log_configuration.options["awslogs-region"], data.aws_region.current.name)
  log_stream_resource = local.log_group_name != "" ? "arn:${data.aws_partition.current.partition}:logs:${local.log_group_region}:*:log-group:${local.log_group_name}:log-stream:*" : "*"
}

resource "aws_iam_role" "task" {
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust_policy

  tags = {
    "consul.hashicorp.com.service-name" = local.service_name
    "consul.hashicorp.com.namespace"    = var.consul_namespace
  }
}

resource "aws_iam_policy" "task" {
  count       = var.acls ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = "Lets the ${var.family} gateway read its own IAM role for the Consul login."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:GetRole"]
      Resource = [aws_iam_role.task.arn]
    }]
  })
}

resource "aws_iam_role_policy_attachment" "task" {
  count      = var.acls ? 1 : 0
  role       = aws_iam_role.task.id
  policy_arn = aws_iam_policy.task[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_task_policies" {
  count      = length(var.additional_task_role_policies)
  role       = aws_iam_role.task.id
  policy_arn = var.additional_task_role_policies[count.index]
}

resource "aws_iam_role" "execution" {
  name               = "${var.family}-execution"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = "Lets ECS start the ${var.family} gateway: its secrets and its logs."
  policy = jsonencode({
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

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.id
  policy_arn = aws_iam_policy.execution.arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = length(var.additional_execution_role_policies)
  role       = aws_iam_role.execution.id
  policy_arn = var.additional_execution_role_policies[count.index]
}
