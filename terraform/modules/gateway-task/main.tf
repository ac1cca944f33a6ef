# gateway-task: a Consul mesh gateway as an ECS service: mesh-init, the Consul client agent,
# Envoy as the gateway itself (essential, listening on the LAN port) and, with ACLs,
# health-sync to log the tokens out; optionally a network load balancer in front.
# Laid out as terraform-aws-consul-ecs v0.6.2 does; differences are in README.md.

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  module_name    = "terraform-aws-consul-ecs"
  module_version = "0.6.2"

  # The uid:gid shared by every container that reads the 0600 files mesh-init writes: the
  # consul-ecs image's user (see the mesh-task README). consul-client stays root, as
  # upstream, and hands the client token it writes to this uid.
  consul_ecs_user    = "5996:5996"
  consul_client_user = "0"

  service_name = var.consul_service_name != "" ? var.consul_service_name : var.family

  lan_port    = var.lan_port != 0 ? var.lan_port : 8443
  wan_port    = var.wan_port != 0 ? var.wan_port : local.lan_port
  wan_address = var.lb_enabled ? aws_lb.this[0].dns_name : var.wan_address

  data_volume     = "consul_data"
  binary_volume   = "consul_binary"
  data_mount_ro   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = true }
  data_mount_rw   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = false }
  binary_mount_ro = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true }
  binary_mount_rw = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = false }
  after_mesh_init = [{ containerName = "consul-ecs-mesh-init", condition = "SUCCESS" }]

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

  container_definitions = flatten(concat(
    [
      {
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
      },
      {
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
      },
      {
        name                   = "sidecar-proxy"
        image                  = var.envoy_image
        essential              = true
        user                   = local.consul_ecs_user
        readonlyRootFilesystem = true
        logConfiguration       = var.log_configuration
        entryPoint             = ["/consul/consul-ecs", "envoy-entrypoint"]
        command                = ["envoy", "--config-path", "/consul/envoy-bootstrap.json"]
        portMappings           = [{ containerPort = local.lan_port, hostPort = local.lan_port, protocol = "tcp" }]
        mountPoints            = [local.data_mount_ro]
        dependsOn              = local.after_mesh_init
        healthCheck = {
          command  = ["/consul/consul-ecs", "net-dial", "127.0.0.1:${local.lan_port}"]
          interval = 30
          retries  = 3
          timeout  = 5
        }
        cpu         = 0
        volumesFrom = []
        environment = []
        ulimits     = [{ name = "nofile", softLimit = 1048576, hardLimit = 1048576 }]
      },
    ],
    # A gateway has no application health to sync; health-sync is there to log out.
    var.acls ? [{
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
    }] : [],
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
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn

  volume {
    name = local.data_volume
  }

  volume {
    name = local.binary_volume
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

resource "aws_ecs_service" "this" {
  name            = local.service_name
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 1
  launch_type     = var.launch_type
  # The task tags (consul.hashicorp.com/*) reach the tasks only through this.
  propagate_tags = "TASK_DEFINITION"
  # No ECS Exec: the task role has no ssmmessages permissions.
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.lb_enabled && var.lb_create_security_group ? concat(var.security_groups, [aws_security_group.this[0].id]) : var.security_groups
    assign_public_ip = var.assign_public_ip
  }

  dynamic "load_balancer" {
    for_each = var.lb_enabled ? [aws_lb_target_group.this[0].arn] : []
    content {
      target_group_arn = load_balancer.value
      container_name   = "sidecar-proxy"
      container_port   = local.lan_port
    }
  }
}
