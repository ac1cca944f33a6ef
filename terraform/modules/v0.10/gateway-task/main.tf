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

module "task_definition" {
  source = "../../internal/task-definition"

  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  cpu                      = var.cpu
  memory                   = var.memory
  task_role_arn            = module.roles.task_role_arn
  execution_role_arn       = module.roles.execution_role_arn
  module_volumes           = [module.dataplane_task.data_volume, module.dataplane_task.binary_volume]
  volumes                  = local.task_volumes
  tags                     = module.dataplane_task.task_tags
  container_definitions    = concat(var.extra_container_definitions, module.dataplane_task.containers)
}

# The task definition was a resource of this module (and of upstream's); state follows it.
moved {
  from = aws_ecs_task_definition.this
  to   = module.task_definition.aws_ecs_task_definition.this
}

resource "aws_ecs_service" "this" {
  name            = local.service_name
  cluster         = var.ecs_cluster_arn
  task_definition = module.task_definition.arn
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
