# The task role (what the containers may do) and the execution role (what ECS may do to
# start them), unless the caller passes its own.

locals {
  task_role_id       = var.create_task_role ? aws_iam_role.task[0].id : var.task_role.id
  task_role_arn      = var.create_task_role ? aws_iam_role.task[0].arn : var.task_role.arn
  execution_role_id  = var.create_execution_role ? aws_iam_role.execution[0].id : var.execution_role.id
  execution_role_arn = var.create_execution_role ? aws_iam_role.execution[0].arn : var.execution_role.arn

  ecs_tasks_trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  # Logs go to the awslogs group named in log_configuration when there is one; otherwise
  # the module cannot know the group and allows any (upstream always allows any).
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

data "aws_partition" "current" {}

resource "aws_iam_role" "task" {
  count              = var.create_task_role ? 1 : 0
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust_policy

  # The Consul aws-iam auth method reads these tags (dots, not slashes: IAM tag keys).
  tags = {
    "consul.hashicorp.com.service-name" = local.service_name
    "consul.hashicorp.com.namespace"    = var.consul_namespace
  }
}

# The login to Consul's aws-iam auth method has the servers call iam:GetRole on the task's
# own role; nothing else.
resource "aws_iam_policy" "task" {
  count       = var.create_task_role && var.acls ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = "Lets the ${var.family} task read its own IAM role for the Consul login."
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:GetRole"]
      Resource = [aws_iam_role.task[0].arn]
    }]
  })
}

resource "aws_iam_role_policy_attachment" "task" {
  count      = var.create_task_role && var.acls ? 1 : 0
  role       = aws_iam_role.task[0].id
  policy_arn = aws_iam_policy.task[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_task_policies" {
  count      = var.create_task_role ? length(var.additional_task_role_policies) : 0
  role       = aws_iam_role.task[0].id
  policy_arn = var.additional_task_role_policies[count.index]
}

resource "aws_iam_role" "execution" {
  count              = var.create_execution_role ? 1 : 0
  name               = "${var.family}-execution"
  path               = var.iam_role_path
  assume_role_policy = local.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  count       = var.create_execution_role ? 1 : 0
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = "Lets ECS start the ${var.family} task: its secrets and its logs."
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
  count      = var.create_execution_role ? 1 : 0
  role       = aws_iam_role.execution[0].id
  policy_arn = aws_iam_policy.execution[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = var.create_execution_role ? length(var.additional_execution_role_policies) : 0
  role       = aws_iam_role.execution[0].id
  policy_arn = var.additional_execution_role_policies[count.index]
}
