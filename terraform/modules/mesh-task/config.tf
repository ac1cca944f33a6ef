# The mesh-task part of CONSUL_ECS_CONFIG_JSON (consul-ecs v0.6.2 format); the agent-task
# module adds the Consul address, CA file, login and bootstrap directory.

locals {
  config = {
    service = merge(
      {
        name      = local.service_name
        tags      = var.consul_service_tags
        port      = var.port
        meta      = var.consul_service_meta
        checks    = var.checks
        namespace = var.consul_namespace
        partition = var.consul_partition
      },
      lookup(var.consul_ecs_config, "service", {}),
    )
    proxy = merge(
      {
        publicListenerPort = var.envoy_public_listener_port
        upstreams          = var.upstreams
      },
      lookup(var.consul_ecs_config, "proxy", {}),
    )
    healthSyncContainers = local.defaulted_check_containers
  }
}
