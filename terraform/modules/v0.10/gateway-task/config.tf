# The gateway part of CONSUL_ECS_CONFIG_JSON (consul-ecs v0.10 format); the dataplane-task
# module adds the servers, login, transparent proxy and bootstrap directory.

module "gateway_config" {
  source = "../../internal/gateway-config"

  kind                               = var.kind
  name                               = local.service_name
  tags                               = var.consul_service_tags
  meta                               = var.consul_service_meta
  enable_mesh_gateway_wan_federation = var.enable_mesh_gateway_wan_federation
  namespace                          = local.namespace
  partition                          = var.consul_partition
  lan_address                        = var.lan_address
  lan_port                           = local.lan_port
  wan_address                        = local.wan_address
  wan_port                           = local.wan_port
  # Ours (README): upstream left this out, so mesh-init configured the readiness
  # listener on 22000 whatever envoy_readiness_port said, and the health check failed.
  extra = { healthCheckPort = var.envoy_readiness_port }
}

locals {
  config = module.gateway_config.config
}
