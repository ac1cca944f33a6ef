# mesh-task (v0.10, Consul Dataplane layout): an ECS task definition with the application's
# containers plus mesh-init, consul-dataplane and health-sync, laid out as
# terraform-aws-consul-ecs v0.10.0 lays it out. Differences are listed in README.md.

locals {
  service_name = var.consul_service_name != "" ? var.consul_service_name : lower(var.family)

  app_entrypoint_enabled = var.application_shutdown_delay_seconds == null ? false : var.application_shutdown_delay_seconds > 0
  app_entrypoint         = local.app_entrypoint_enabled ? ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "${var.application_shutdown_delay_seconds}s"] : null

  # As upstream: the applications wait for a healthy dataplane, and with the shutdown delay
  # run the binary mesh-init copied into /consul, mounted read-only.
  app_containers = [
    for def in var.container_definitions : merge(def, {
      dependsOn  = flatten(concat(lookup(def, "dependsOn", []), [{ containerName = module.dataplane_task.dataplane_name, condition = "HEALTHY" }]))
      entryPoint = lookup(def, "entryPoint", local.app_entrypoint)
      mountPoints = flatten(concat(
        lookup(def, "mountPoints", []),
        local.app_entrypoint_enabled ? [module.dataplane_task.data_mount_ro] : [],
      ))
    })
  ]

  # The ECS health of every application container that has an essential key and a health
  # check becomes a Consul check.
  health_sync_containers = [
    for def in var.container_definitions : def.name
    if contains(keys(def), "essential") && contains(keys(def), "healthCheck") && try(def.healthCheck, null) != null
  ]

  container_definitions = concat(local.app_containers, module.dataplane_task.containers)
}

# mesh-init, consul-dataplane, health-sync, the config frame, tags and IAM documents,
# shared with the v0.10 gateway-task.
module "dataplane_task" {
  source = "../../internal/dataplane-task"

  family                         = var.family
  task_kind                      = "task"
  service_name                   = local.service_name
  tags                           = var.tags
  consul_ecs_image               = var.consul_ecs_image
  consul_dataplane_image         = var.consul_dataplane_image
  log_configuration              = var.log_configuration
  config                         = local.config
  consul_login_extra             = lookup(var.consul_ecs_config, "consulLogin", {})
  acls                           = var.acls
  service_token_auth_method_name = var.service_token_auth_method_name
  consul_server_hosts            = var.consul_server_hosts
  skip_server_watch              = var.skip_server_watch
  tls                            = var.tls
  tls_server_name                = var.tls_server_name
  ca_cert_file                   = var.ca_cert_file
  consul_ca_cert_arn             = var.consul_ca_cert_arn
  consul_https_ca_cert_arn       = var.consul_https_ca_cert_arn
  consul_grpc_ca_cert_arn        = var.consul_grpc_ca_cert_arn
  http_config                    = var.http_config
  grpc_config                    = var.grpc_config
  enable_transparent_proxy       = var.enable_transparent_proxy
  enable_consul_dns              = var.enable_consul_dns
  exclude_inbound_ports          = var.exclude_inbound_ports
  exclude_outbound_ports         = var.exclude_outbound_ports
  exclude_outbound_cidrs         = var.exclude_outbound_cidrs
  exclude_uids                   = var.exclude_uids
  dataplane_essential            = var.consul_dataplane_essential
  envoy_readiness_port           = var.envoy_readiness_port
  dataplane_port_mappings        = []
  dataplane_extra_mounts         = []
  consul_partition               = var.consul_partition
  consul_namespace               = var.consul_namespace
}

module "task_definition" {
  source = "../../internal/task-definition"

  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = local.task_role_arn
  execution_role_arn       = local.execution_role_arn
  module_volumes           = [module.dataplane_task.data_volume, module.dataplane_task.binary_volume]
  volumes                  = var.volumes
  tags                     = module.dataplane_task.task_tags
  container_definitions    = local.container_definitions
}

# The task definition was a resource of this module (and of upstream's); state follows it.
moved {
  from = aws_ecs_task_definition.this
  to   = module.task_definition.aws_ecs_task_definition.this
}
