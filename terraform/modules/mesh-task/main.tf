# mesh-task: an ECS task definition with the application's containers plus the consul-ecs
# machinery (mesh-init, the Consul client agent, the Envoy sidecar and health-sync), laid
# out as terraform-aws-consul-ecs v0.6.2 lays it out. Differences are listed in README.md.

data "aws_region" "current" {}

locals {
  # Written into the task tags. The acl-controller and operators read these tags, so they
  # keep upstream's values.
  module_name    = "terraform-aws-consul-ecs"
  module_version = "0.6.2"

  # mesh-init writes the service token and the Envoy bootstrap with mode 0600, so every
  # container that reads them (sidecar-proxy, health-sync) runs as the uid:gid mesh-init
  # runs as: the consul-ecs image's user, which owns the image's /consul. consul-client
  # stays root (as upstream) and hands the client token it writes to this uid.
  consul_ecs_user    = "5996:5996"
  consul_client_user = "0"

  service_name = var.consul_service_name != "" ? var.consul_service_name : lower(var.family)

  data_volume           = "consul_data"
  binary_volume         = "consul_binary"
  app_entrypoint_volume = "consul_ecs_app_entrypoint"

  data_mount_ro   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = true }
  data_mount_rw   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = false }
  binary_mount_ro = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true }
  binary_mount_rw = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = false }

  after_mesh_init = [{ containerName = "consul-ecs-mesh-init", condition = "SUCCESS" }]

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
        local.after_mesh_init,
        [{ containerName = "sidecar-proxy", condition = "HEALTHY" }],
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
    for def in local.app_containers : def.name
    if contains(keys(def), "essential") && contains(keys(def), "healthCheck") && try(def.healthCheck, null) != null
  ] : []

  # With ACLs health-sync also logs the tokens out when the task stops.
  health_sync_enabled = length(local.defaulted_check_containers) > 0 || var.acls

  gossip_enabled = var.gossip_key_secret_arn != ""

  consul_agent_defaults = templatefile("${path.module}/templates/consul_agent_defaults.hcl.tpl", {
    gossip_encryption_enabled = local.gossip_enabled
    retry_join                = var.retry_join
    tls                       = var.tls
    acls                      = var.acls
    partition                 = var.consul_partition
    primary_datacenter        = var.consul_primary_datacenter
    enable_token_replication  = var.enable_acl_token_replication
    audit_logging             = var.audit_logging
  })

  consul_client_script = replace(templatefile("${path.module}/templates/consul_client_command.tpl", {
    consul_agent_defaults_hcl      = local.consul_agent_defaults
    consul_agent_configuration_hcl = var.consul_agent_configuration
    consul_ecs_user                = local.consul_ecs_user
    tls                            = var.tls
    https                          = var.consul_https_ca_cert_arn != ""
    acls                           = var.acls
    consul_http_addr               = var.consul_http_addr
    client_token_auth_method_name  = var.client_token_auth_method_name
    consul_partition               = var.consul_partition
    region                         = data.aws_region.current.name
  }), "\r", "")

  mesh_init_container = {
    name                   = "consul-ecs-mesh-init"
    image                  = var.consul_ecs_image
    essential              = false
    user                   = local.consul_ecs_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    command                = ["mesh-init"]
    mountPoints            = [local.data_mount_rw, local.binary_mount_ro]
    cpu                    = 0
    volumesFrom            = []
    environment            = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.encoded_config }]
    linuxParameters        = { initProcessEnabled = true }
  }

  consul_client_container = {
    name             = "consul-client"
    image            = var.consul_image
    essential        = false
    user             = local.consul_client_user
    portMappings     = []
    logConfiguration = var.log_configuration
    entryPoint       = ["/bin/sh", "-ec"]
    command          = [local.consul_client_script]
    mountPoints      = [local.data_mount_rw, local.binary_mount_rw]
    linuxParameters  = { initProcessEnabled = true }
    cpu              = 0
    volumesFrom      = []
    environment      = [{ name = "CONSUL_DATACENTER", value = var.consul_datacenter }]
    secrets = concat(
      var.tls ? [{ name = "CONSUL_CACERT_PEM", valueFrom = var.consul_server_ca_cert_arn }] : [],
      var.consul_https_ca_cert_arn != "" ? [{ name = "CONSUL_HTTPS_CACERT_PEM", valueFrom = var.consul_https_ca_cert_arn }] : [],
      local.gossip_enabled ? [{ name = "CONSUL_GOSSIP_ENCRYPTION_KEY", valueFrom = var.gossip_key_secret_arn }] : [],
    )
  }

  sidecar_proxy_container = {
    name                   = "sidecar-proxy"
    image                  = var.envoy_image
    essential              = false
    user                   = local.consul_ecs_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    entryPoint             = ["/consul/consul-ecs", "envoy-entrypoint"]
    command                = ["envoy", "--config-path", "/consul/envoy-bootstrap.json"]
    portMappings           = []
    mountPoints            = [local.data_mount_ro]
    dependsOn              = local.after_mesh_init
    healthCheck = {
      command  = ["/consul/consul-ecs", "net-dial", "127.0.0.1:${var.envoy_public_listener_port}"]
      interval = 30
      retries  = 3
      timeout  = 5
    }
    cpu         = 0
    volumesFrom = []
    environment = []
    # 2^20 is the most the kernel allows without sysctl changes.
    ulimits = [{ name = "nofile", softLimit = 1048576, hardLimit = 1048576 }]
  }

  health_sync_container = {
    name                   = "consul-ecs-health-sync"
    image                  = var.consul_ecs_image
    essential              = false
    user                   = local.consul_ecs_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    command                = ["health-sync"]
    cpu                    = 0
    volumesFrom            = []
    environment            = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.encoded_config }]
    portMappings           = []
    mountPoints            = [local.data_mount_ro]
    dependsOn              = local.after_mesh_init
    linuxParameters        = { initProcessEnabled = true }
  }

  # Copies the binary mesh-init left in /consul into the application's own volume. It runs
  # the Consul image because that image has a shell and cp (the consul-client container
  # already relies on them); the consul-ecs image may end up without either.
  app_entrypoint_init_container = {
    name                   = "consul-ecs-app-entrypoint-init"
    image                  = var.consul_image
    essential              = false
    user                   = local.consul_ecs_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    entryPoint             = ["/bin/sh", "-ec"]
    command                = ["cp /consul/consul-ecs /consul-ecs-app-entrypoint/consul-ecs && chmod 0755 /consul-ecs-app-entrypoint/consul-ecs"]
    cpu                    = 0
    volumesFrom            = []
    environment            = []
    portMappings           = []
    mountPoints = [
      local.data_mount_ro,
      { sourceVolume = local.app_entrypoint_volume, containerPath = "/consul-ecs-app-entrypoint", readOnly = false },
    ]
    dependsOn = local.after_mesh_init
  }

  container_definitions = flatten(concat(
    local.app_containers,
    [local.mesh_init_container, local.consul_client_container, local.sidecar_proxy_container],
    local.health_sync_enabled ? [local.health_sync_container] : [],
    local.app_entrypoint_enabled ? [local.app_entrypoint_init_container] : [],
  ))

  partition_tag = var.consul_partition != "" ? { "consul.hashicorp.com/partition" = var.consul_partition } : {}
  namespace_tag = var.consul_namespace != "" ? { "consul.hashicorp.com/namespace" = var.consul_namespace } : {}
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = local.execution_role_arn
  task_role_arn            = local.task_role_arn

  volume {
    name = local.data_volume
  }

  volume {
    name = local.binary_volume
  }

  dynamic "volume" {
    for_each = local.app_entrypoint_enabled ? [local.app_entrypoint_volume] : []
    content {
      name = volume.value
    }
  }

  dynamic "volume" {
    for_each = var.volumes
    content {
      name      = volume.value["name"]
      host_path = lookup(volume.value, "host_path", null)

      dynamic "docker_volume_configuration" {
        for_each = contains(keys(volume.value), "docker_volume_configuration") ? [volume.value["docker_volume_configuration"]] : []
        content {
          autoprovision = lookup(docker_volume_configuration.value, "autoprovision", null)
          driver        = lookup(docker_volume_configuration.value, "driver", null)
          driver_opts   = lookup(docker_volume_configuration.value, "driver_opts", null)
          labels        = lookup(docker_volume_configuration.value, "labels", null)
          scope         = lookup(docker_volume_configuration.value, "scope", null)
        }
      }

      dynamic "efs_volume_configuration" {
        for_each = contains(keys(volume.value), "efs_volume_configuration") ? [volume.value["efs_volume_configuration"]] : []
        content {
          file_system_id          = efs_volume_configuration.value["file_system_id"]
          root_directory          = lookup(efs_volume_configuration.value, "root_directory", null)
          transit_encryption      = lookup(efs_volume_configuration.value, "transit_encryption", null)
          transit_encryption_port = lookup(efs_volume_configuration.value, "transit_encryption_port", null)

          dynamic "authorization_config" {
            for_each = contains(keys(efs_volume_configuration.value), "authorization_config") ? [efs_volume_configuration.value["authorization_config"]] : []
            content {
              access_point_id = lookup(authorization_config.value, "access_point_id", null)
              iam             = lookup(authorization_config.value, "iam", null)
            }
          }
        }
      }

      dynamic "fsx_windows_file_server_volume_configuration" {
        for_each = contains(keys(volume.value), "fsx_windows_file_server_volume_configuration") ? [volume.value["fsx_windows_file_server_volume_configuration"]] : []
        content {
          file_system_id = fsx_windows_file_server_volume_configuration.value["file_system_id"]
          root_directory = fsx_windows_file_server_volume_configuration.value["root_directory"]

          dynamic "authorization_config" {
            for_each = contains(keys(fsx_windows_file_server_volume_configuration.value), "authorization_config") ? [fsx_windows_file_server_volume_configuration.value["authorization_config"]] : []
            content {
              credentials_parameter = authorization_config.value["credentials_parameter"]
              domain                = authorization_config.value["domain"]
            }
          }
        }
      }
    }
  }

  tags = merge(
    var.tags,
    {
      "consul.hashicorp.com/mesh"           = "true"
      "consul.hashicorp.com/service-name"   = local.service_name
      "consul.hashicorp.com/module"         = local.module_name
      "consul.hashicorp.com/module-version" = local.module_version
    },
    local.partition_tag,
    local.namespace_tag,
  )

  container_definitions = jsonencode(local.container_definitions)
}
