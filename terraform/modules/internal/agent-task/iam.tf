# The IAM policy documents of the task and execution roles (the roles and policies
# themselves are resources of the public modules).

module "iam" {
  source = "../ecs-iam"

  # Every secret the task definition injects. Upstream forgot the HTTPS CA (it is often
  # the same secret as the server CA, and then this changes nothing).
  secret_arns       = [var.tls ? var.consul_server_ca_cert_arn : "", var.consul_https_ca_cert_arn, var.gossip_key_secret_arn]
  log_configuration = var.log_configuration
  family            = var.family
  task_kind         = var.task_kind
  task_role_arn     = var.task_role_arn
}
