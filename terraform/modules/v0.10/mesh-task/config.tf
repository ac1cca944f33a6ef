# The mesh-task part of CONSUL_ECS_CONFIG_JSON (consul-ecs v0.10 format); the
# dataplane-task module adds the servers, login, transparent proxy and bootstrap directory.

locals {
  config = {
    service = merge(
      {
        name      = local.service_name
        tags      = var.consul_service_tags
        port      = var.port
        meta      = var.consul_service_meta
        namespace = var.consul_namespace
        partition = var.consul_partition
      },
      lookup(var.consul_ecs_config, "service", {}),
    )
    proxy = merge(
      {
        publicListenerPort = var.envoy_public_listener_port
        healthCheckPort    = var.envoy_readiness_port
        upstreams          = var.upstreams
      },
      lookup(var.consul_ecs_config, "proxy", {}),
    )
    healthSyncContainers = local.health_sync_containers
  }
}
