# gateway-task (v0.10, Consul Dataplane layout): a mesh, terminating or API gateway as an ECS
# service: mesh-init, consul-dataplane as the gateway (essential, on the LAN port) and
# health-sync; optionally a network load balancer in front. Laid out as
# terraform-aws-consul-ecs v0.10.0 does; differences are in README.md.

locals {
  service_name = var.consul_service_name != "" ? var.consul_service_name : var.family
  # A gateway in a partition lives in that partition's default namespace.
  namespace = var.consul_partition != "" ? "default" : ""

  lan_port    = var.lan_port != 0 ? var.lan_port : 8443
  wan_port    = var.wan_port != 0 ? var.wan_port : local.lan_port
  wan_address = var.lb_enabled ? module.lb.dns_name : var.wan_address

  # As upstream, each extra volume is a task volume (without its host_path, which is where
  # the dataplane mounts it) and a mount of the dataplane.
  task_volumes = [for v in var.volumes : merge(v, { host_path = null })]
  dataplane_mounts = [
    for v in var.volumes : { sourceVolume = v.name, containerPath = v.host_path, readOnly = lookup(v, "read_only", true) }
  ]

  load_balancers = var.lb_enabled ? [{
    target_group_arn = module.lb.target_group_arn
    container_name   = module.dataplane_task.dataplane_name
    container_port   = local.lan_port
  }] : var.custom_load_balancer_config
}

# mesh-init, consul-dataplane, health-sync, the config frame and the task tags, shared
# with the v0.10 mesh-task.
module "dataplane_task" {
  source = "../../internal/dataplane-task"

  family                         = var.family
  task_kind                      = "gateway"
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
  ca_cert_file                   = null
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
  # The dataplane is the gateway: essential, as upstream.
  dataplane_essential     = true
  envoy_readiness_port    = var.envoy_readiness_port
  dataplane_port_mappings = [{ containerPort = local.lan_port, hostPort = local.lan_port, protocol = "tcp" }]
  dataplane_extra_mounts  = local.dataplane_mounts
  consul_partition        = var.consul_partition
  consul_namespace        = local.namespace
}

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_97:EFS volumes come only from var.volumes, whose transit_encryption is passed through as the caller sets it (as upstream); the module adds none
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = module.roles.execution_role_arn
  task_role_arn            = module.roles.task_role_arn

  volume {
    name = module.dataplane_task.data_volume
  }

  volume {
    name = module.dataplane_task.binary_volume
  }

  dynamic "volume" {
    for_each = local.task_volumes
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

  container_definitions = jsonencode(concat(var.extra_container_definitions, module.dataplane_task.containers))

  lifecycle {
    precondition {
      condition     = !var.enable_mesh_gateway_wan_federation || var.tls
      error_message = "enable_mesh_gateway_wan_federation needs tls."
    }
    precondition {
      condition     = !(var.wan_address != "" && var.lb_enabled)
      error_message = "Only one of wan_address and lb_enabled may be set."
    }
    precondition {
      condition     = !var.lb_enabled || length(var.lb_subnets) > 0
      error_message = "lb_subnets must be set when lb_enabled is true."
    }
    precondition {
      condition     = !var.lb_enabled || var.lb_vpc_id != ""
      error_message = "lb_vpc_id must be set when lb_enabled is true."
    }
    precondition {
      condition     = !(var.lb_enabled && var.lb_create_security_group && var.lb_modify_security_group)
      error_message = "Only one of lb_create_security_group and lb_modify_security_group may be true."
    }
    precondition {
      condition     = !var.lb_modify_security_group || var.lb_modify_security_group_id != ""
      error_message = "lb_modify_security_group_id must be set when lb_modify_security_group is true."
    }
    precondition {
      condition     = !var.lb_enabled || length(var.custom_load_balancer_config) == 0
      error_message = "custom_load_balancer_config can be set only when lb_enabled is false."
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

resource "aws_ecs_service" "this" {
  name            = local.service_name
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = var.gateway_count
  launch_type     = var.launch_type
  # The task tags (consul.hashicorp.com/*) reach the tasks only through this.
  propagate_tags = "TASK_DEFINITION"
  # No ECS Exec: the task role has no ssmmessages permissions (upstream turned it on all
  # the same).
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.lb_enabled && var.lb_create_security_group ? concat(var.security_groups, [module.lb.security_group_id]) : var.security_groups
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = local.load_balancers
    content {
      target_group_arn = load_balancer.value.target_group_arn
      container_name   = load_balancer.value.container_name
      container_port   = load_balancer.value.container_port
    }
  }
}
