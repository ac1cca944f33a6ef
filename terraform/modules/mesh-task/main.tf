# mesh-task: an ECS task definition with the application's containers plus the consul-ecs
# machinery (mesh-init, the Consul client agent, the Envoy sidecar and health-sync), laid
# out as terraform-aws-consul-ecs v0.6.2 lays it out. Differences are listed in README.md.

locals {
  service_name = var.consul_service_name != "" ? var.consul_service_name : lower(var.family)

  app_entrypoint_volume = "consul_ecs_app_entrypoint"

  # app-entrypoint: the application container runs /consul/consul-ecs, as upstream, but its
  # /consul is a volume holding only that binary (copied there by the
  # consul-ecs-app-entrypoint-init container), never the tokens and the Envoy bootstrap.
  app_entrypoint_enabled = var.application_shutdown_delay_seconds == null ? false : var.application_shutdown_delay_seconds > 0
  app_entrypoint         = local.app_entrypoint_enabled ? ["/consul/consul-ecs", "app-entrypoint", "-shutdown-delay", "${var.application_shutdown_delay_seconds}s"] : null
  app_entrypoint_mount   = { sourceVolume = local.app_entrypoint_volume, containerPath = "/consul", readOnly = true }

  app_containers = [
    for def in var.container_definitions : merge(def, {
      dependsOn = flatten(concat(
        lookup(def, "dependsOn", []),
        module.agent_task.after_mesh_init,
        [{ containerName = module.agent_task.sidecar_proxy_name, condition = "HEALTHY" }],
        local.app_entrypoint_enabled && !contains(keys(def), "entryPoint") ? [{ containerName = "consul-ecs-app-entrypoint-init", condition = "SUCCESS" }] : [],
      ))
      entryPoint = lookup(def, "entryPoint", local.app_entrypoint)
      mountPoints = flatten(concat(
        lookup(def, "mountPoints", []),
        local.app_entrypoint_enabled && !contains(keys(def), "entryPoint") ? [local.app_entrypoint_mount] : [],
      ))
    })
  ]

  # Without explicit checks, the ECS health of every application container that has a
  # health check becomes a Consul TTL check.
  defaulted_check_containers = length(var.checks) == 0 ? [
    for def in var.container_definitions : def.name
    if contains(keys(def), "essential") && contains(keys(def), "healthCheck") && try(def.healthCheck, null) != null
  ] : []

  # With ACLs health-sync also logs the tokens out when the task stops.
  health_sync_enabled = length(local.defaulted_check_containers) > 0 || var.acls

  # Copies the binary mesh-init left in /consul into the application's own volume. It runs
  # the Consul image because that image has a shell and cp (the consul-client container
  # already relies on them); the consul-ecs image may end up without either.
  app_entrypoint_init_container = {
    name                   = "consul-ecs-app-entrypoint-init"
    image                  = var.consul_image
    essential              = false
    user                   = module.agent_task.consul_ecs_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    entryPoint             = ["/bin/sh", "-ec"]
    command                = ["cp /consul/consul-ecs /consul-ecs-app-entrypoint/consul-ecs && chmod 0755 /consul-ecs-app-entrypoint/consul-ecs"]
    cpu                    = 0
    volumesFrom            = []
    environment            = []
    portMappings           = []
    mountPoints = [
      module.agent_task.data_mount_ro,
      { sourceVolume = local.app_entrypoint_volume, containerPath = "/consul-ecs-app-entrypoint", readOnly = false },
    ]
    dependsOn = module.agent_task.after_mesh_init
  }

  container_definitions = flatten(concat(
    local.app_containers,
    module.agent_task.containers,
    local.app_entrypoint_enabled ? [local.app_entrypoint_init_container] : [],
  ))
}

# mesh-init, consul-client, the sidecar and health-sync, the task tags and the IAM policy
# documents, shared with gateway-task.
module "agent_task" {
  source = "../internal/agent-task"

  family                         = var.family
  task_kind                      = "task"
  service_name                   = local.service_name
  tags                           = var.tags
  consul_ecs_image               = var.consul_ecs_image
  consul_image                   = var.consul_image
  envoy_image                    = var.envoy_image
  log_configuration              = var.log_configuration
  config                         = local.config
  consul_login_extra             = lookup(var.consul_ecs_config, "consulLogin", {})
  health_sync_enabled            = local.health_sync_enabled
  sidecar_proxy_essential        = var.sidecar_proxy_essential
  sidecar_proxy_port             = var.envoy_public_listener_port
  sidecar_proxy_port_mappings    = []
  retry_join                     = var.retry_join
  consul_http_addr               = var.consul_http_addr
  consul_https_ca_cert_arn       = var.consul_https_ca_cert_arn
  client_token_auth_method_name  = var.client_token_auth_method_name
  service_token_auth_method_name = var.service_token_auth_method_name
  tls                            = var.tls
  consul_server_ca_cert_arn      = var.consul_server_ca_cert_arn
  gossip_key_secret_arn          = var.gossip_key_secret_arn
  acls                           = var.acls
  enable_acl_token_replication   = var.enable_acl_token_replication
  consul_datacenter              = var.consul_datacenter
  consul_primary_datacenter      = var.consul_primary_datacenter
  consul_agent_configuration     = var.consul_agent_configuration
  audit_logging                  = var.audit_logging
  consul_partition               = var.consul_partition
  consul_namespace               = var.consul_namespace
}

module "task_definition" {
  source = "../internal/task-definition"

  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = local.task_role_arn
  execution_role_arn       = local.execution_role_arn
  module_volumes           = concat([module.agent_task.data_volume, module.agent_task.binary_volume], local.app_entrypoint_enabled ? [local.app_entrypoint_volume] : [])
  volumes                  = var.volumes
  tags                     = module.agent_task.task_tags
  container_definitions    = local.container_definitions
}

# The task definition was a resource of this module (and of upstream's); state follows it.
moved {
  from = aws_ecs_task_definition.this
  to   = module.task_definition.aws_ecs_task_definition.this
}
