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

# The service, task definition and roles: ../../internal/controller-service.
module "service" {
  source = "../../internal/controller-service"

  name                     = local.name
  family                   = "${var.name_prefix}-${local.name}"
  ecs_cluster_arn          = var.ecs_cluster_arn
  launch_type              = var.launch_type
  requires_compatibilities = var.requires_compatibilities
  subnets                  = var.subnets
  security_groups          = var.security_groups
  assign_public_ip         = var.assign_public_ip
  container = {
    name                   = local.name
    image                  = var.consul_ecs_image
    essential              = true
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    command                = ["controller"]
    linuxParameters        = { initProcessEnabled = true }
    environment            = [{ name = "CONSUL_ECS_CONFIG_JSON", value = jsonencode(local.config) }]
    secrets                = local.secrets
  }
  log_configuration                  = var.log_configuration
  execution_policy_description       = "Lets ECS start the Consul ECS controller: its secrets and its logs."
  additional_execution_role_policies = var.additional_execution_role_policies
}

# Upstream's addresses of these resources; state follows them there.
moved {
  from = aws_ecs_service.this
  to   = module.service.aws_ecs_service.this
}

moved {
  from = aws_ecs_task_definition.this
  to   = module.service.aws_ecs_task_definition.this
}

moved {
  from = aws_iam_role.task
  to   = module.service.aws_iam_role.task
}

moved {
  from = aws_iam_role_policy.task
  to   = module.service.aws_iam_role_policy.task
}

moved {
  from = aws_iam_role.execution
  to   = module.service.aws_iam_role.execution
}

moved {
  from = aws_iam_policy.execution
  to   = module.service.aws_iam_policy.execution
}

moved {
  from = aws_iam_role_policy_attachment.execution
  to   = module.service.aws_iam_role_policy_attachment.execution
}

moved {
  from = aws_iam_role_policy_attachment.additional_execution_policies
  to   = module.service.aws_iam_role_policy_attachment.additional_execution_policies
}

output "task_definition_arn" {
  description = "ARN of the controller's task definition (upstream has no outputs)."
  value       = module.service.task_definition_arn
}

output "task_role_arn" {
  description = "ARN of the controller's task role (upstream has no outputs)."
  value       = module.service.task_role_arn
}
