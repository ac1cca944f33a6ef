# The task's tags, and the secrets its execution role must read (the roles themselves are
# made by ../task-roles, called from the public modules).

locals {
  # Every secret the task definition injects. Upstream forgot the HTTPS CA (it is often
  # the same secret as the server CA, and then this changes nothing).
  secret_arns = [var.tls ? var.consul_server_ca_cert_arn : "", var.consul_https_ca_cert_arn, var.gossip_key_secret_arn]
}

module "identity" {
  source = "../task-identity"

  family           = var.family
  task_kind        = var.task_kind
  service_name     = var.service_name
  consul_namespace = var.consul_namespace
  consul_partition = var.consul_partition
  module_version   = "0.6.2"
  tags             = var.tags
}
