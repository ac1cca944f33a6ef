# acl-controller: one ECS service running `consul-ecs acl-controller`, which sets up the
# Consul auth methods, role and policy that mesh tasks log in with, and deletes the tokens
# of tasks that no longer run. As in terraform-aws-consul-ecs v0.6.2; differences are in
# README.md. The service, task definition and roles: ../internal/controller-service.

module "service" {
  source = "../internal/controller-service"

  name                     = "consul-acl-controller"
  family                   = "${var.name_prefix}-consul-acl-controller"
  ecs_cluster_arn          = var.ecs_cluster_arn
  launch_type              = var.launch_type
  requires_compatibilities = var.requires_compatibilities
  subnets                  = var.subnets
  security_groups          = var.security_groups
  assign_public_ip         = var.assign_public_ip
  container = {
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
  }
  log_configuration                  = var.log_configuration
  execution_policy_description       = "Lets ECS start the Consul ACL controller: its secrets and its logs."
  additional_execution_role_policies = var.additional_execution_role_policies
}

# These were resources of this module (and of upstream's); state follows them there.
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
