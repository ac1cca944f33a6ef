# The gateway part of CONSUL_ECS_CONFIG_JSON (consul-ecs v0.6.2 format); the agent-task
# module adds the Consul address, CA file, login and bootstrap directory.

locals {
  config = {
    gateway = {
      kind      = var.kind
      name      = local.service_name
      tags      = var.consul_service_tags
      meta      = merge(var.consul_service_meta, var.enable_mesh_gateway_wan_federation ? { "consul-wan-federation" = "1" } : {})
      namespace = var.consul_namespace
      partition = var.consul_partition
      lanAddress = {
        address = var.lan_address
        port    = local.lan_port
      }
      wanAddress = {
        address = local.wan_address
        port    = local.wan_port
      }
    }
    healthSyncContainers = []
  }
}
