# The gateway part of CONSUL_ECS_CONFIG_JSON (consul-ecs v0.10 format); the dataplane-task
# module adds the servers, login, transparent proxy and bootstrap directory.

locals {
  config = {
    gateway = {
      kind      = var.kind
      name      = local.service_name
      tags      = var.consul_service_tags
      meta      = merge(var.consul_service_meta, var.enable_mesh_gateway_wan_federation ? { "consul-wan-federation" = "1" } : {})
      namespace = local.namespace
      partition = var.consul_partition
      lanAddress = {
        address = var.lan_address
        port    = local.lan_port
      }
      wanAddress = {
        address = local.wan_address
        port    = local.wan_port
      }
      # Ours (README): upstream left this out, so mesh-init configured the readiness
      # listener on 22000 whatever envoy_readiness_port said, and the health check failed.
      healthCheckPort = var.envoy_readiness_port
    }
    healthSyncContainers = []
  }
}
