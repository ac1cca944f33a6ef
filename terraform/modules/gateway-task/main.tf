# gateway-task: a Consul mesh gateway as an ECS service: mesh-init, the Consul client agent,
# Envoy as the gateway itself (essential, listening on the LAN port) and, with ACLs,
# health-sync to log the tokens out; optionally a network load balancer in front.
# Laid out as terraform-aws-consul-ecs v0.6.2 does; differences are in README.md.

locals {
  service_name = var.consul_service_name != "" ? var.consul_service_name : var.family

  lan_port    = var.lan_port != 0 ? var.lan_port : 8443
  wan_port    = var.wan_port != 0 ? var.wan_port : local.lan_port
  wan_address = var.lb_enabled ? module.lb.dns_name : var.wan_address
}

# mesh-init, consul-client, Envoy as the gateway itself (essential, listening on the LAN
# port) and health-sync, the task tags and the IAM policy documents, shared with mesh-task.
module "agent_task" {
  source = "../internal/agent-task"

  family             = var.family
  task_kind          = "gateway"
  service_name       = local.service_name
  tags               = var.tags
  consul_ecs_image   = var.consul_ecs_image
  consul_image       = var.consul_image
  envoy_image        = var.envoy_image
  log_configuration  = var.log_configuration
  config             = local.config
  consul_login_extra = lookup(var.consul_ecs_config, "consulLogin", {})
  # A gateway has no application health to sync; health-sync is there to log out.
  health_sync_enabled            = var.acls
  sidecar_proxy_essential        = true
  sidecar_proxy_port             = local.lan_port
  sidecar_proxy_port_mappings    = [{ containerPort = local.lan_port, hostPort = local.lan_port, protocol = "tcp" }]
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
  task_role_arn            = module.roles.task_role_arn
  execution_role_arn       = module.roles.execution_role_arn
  module_volumes           = [module.agent_task.data_volume, module.agent_task.binary_volume]
  volumes                  = []
  tags                     = module.agent_task.task_tags
  container_definitions    = module.agent_task.containers
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
  desired_count   = 1
  launch_type     = var.launch_type
  # The task tags (consul.hashicorp.com/*) reach the tasks only through this.
  propagate_tags = "TASK_DEFINITION"
  # No ECS Exec: the task role has no ssmmessages permissions.
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.lb_enabled && var.lb_create_security_group ? concat(var.security_groups, [module.lb.security_group_id]) : var.security_groups
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = var.lb_enabled ? [module.lb.target_group_arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = module.agent_task.sidecar_proxy_name
      container_port   = local.lan_port
    }
  }
}
