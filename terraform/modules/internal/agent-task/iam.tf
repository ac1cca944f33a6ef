# The IAM policy documents of the task and execution roles (the roles and policies
# themselves are resources of the public modules).

locals {
  ecs_tasks_trust_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })

  # The login to Consul's aws-iam auth method has the servers call iam:GetRole on the
  # task's own role; nothing else.
  task_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["iam:GetRole"]
      Resource = [var.task_role_arn]
    }]
  })

  # Every secret the task definition injects. Upstream forgot the HTTPS CA (it is often
  # the same secret as the server CA, and then this changes nothing).
  secret_arns = distinct(compact([
    var.tls ? var.consul_server_ca_cert_arn : "",
    var.consul_https_ca_cert_arn,
    var.gossip_key_secret_arn,
  ]))

  # Logs go to the awslogs group named in log_configuration when there is one; otherwise
  # the module cannot know the group and allows any (upstream always allows any).
  log_group_name      = try(var.log_configuration.options["awslogs-group"], "")
  log_group_region    = try(var.log_configuration.options["awslogs-region"], data.aws_region.current.name)
  log_stream_resource = local.log_group_name != "" ? "arn:${data.aws_partition.current.partition}:logs:${local.log_group_region}:*:log-group:${local.log_group_name}:log-stream:*" : "*"

  execution_policy = jsonencode({
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

  task_policy_description      = "Lets the ${var.family} ${var.task_kind} read its own IAM role for the Consul login."
  execution_policy_description = "Lets ECS start the ${var.family} ${var.task_kind}: its secrets and its logs."
}
