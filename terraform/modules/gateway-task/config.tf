# The gateway part of CONSUL_ECS_CONFIG_JSON (consul-ecs v0.6.2 format); the agent-task
# module adds the Consul address, CA file, login and bootstrap directory.

module "gateway_config" {
  source = "../internal/gateway-config"

  kind                               = var.kind
  name                               = local.service_name
  tags                               = var.consul_service_tags
  meta                               = var.consul_service_meta
  enable_mesh_gateway_wan_federation = var.enable_mesh_gateway_wan_federation
  namespace                          = var.consul_namespace
  partition                          = var.consul_partition
  lan_address                        = var.lan_address
  lan_port                           = local.lan_port
  wan_address                        = local.wan_address
  wan_port                           = local.wan_port
}

locals {
  config = module.gateway_config.config
}
