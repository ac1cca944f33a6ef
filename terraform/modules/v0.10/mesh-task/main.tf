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

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_97:EFS volumes come only from var.volumes, whose transit_encryption is passed through as the caller sets it (as upstream); the module adds none
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = local.execution_role_arn
  task_role_arn            = local.task_role_arn

  volume {
    name = module.dataplane_task.data_volume
  }

  volume {
    name = module.dataplane_task.binary_volume
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

  tags = module.dataplane_task.task_tags

  container_definitions = jsonencode(local.container_definitions)

  lifecycle {
    precondition {
      condition     = var.outbound_only || var.port != 0
      error_message = "port must be set unless outbound_only is true."
    }
    precondition {
      condition     = var.envoy_public_listener_port != var.envoy_readiness_port
      error_message = "envoy_public_listener_port and envoy_readiness_port must differ."
    }
    precondition {
      condition     = var.consul_partition == "" || var.consul_namespace != ""
      error_message = "consul_namespace must be set when consul_partition is."
    }
    precondition {
      condition     = var.consul_namespace == "" || var.consul_partition != ""
      error_message = "consul_partition must be set when consul_namespace is."
    }
    precondition {
      condition     = var.create_task_role || length(var.additional_task_role_policies) == 0
      error_message = "additional_task_role_policies cannot be set when create_task_role is false."
    }
    precondition {
      condition     = var.create_execution_role || length(var.additional_execution_role_policies) == 0
      error_message = "additional_execution_role_policies cannot be set when create_execution_role is false."
    }
    precondition {
      condition     = !var.enable_transparent_proxy || (length(var.requires_compatibilities) == 1 && contains(var.requires_compatibilities, "EC2"))
      error_message = "Transparent proxy works only on EC2: set requires_compatibilities = [\"EC2\"], or enable_transparent_proxy = false on Fargate."
    }
    precondition {
      condition     = !var.enable_consul_dns || var.enable_transparent_proxy
      error_message = "enable_consul_dns needs enable_transparent_proxy."
    }
  }
}
