# agent-task (internal): what a consul-ecs v0.6.x task of mesh-task and of gateway-task has
# in common, written once: mesh-init, the Consul client agent (its script and agent
# configuration from templates/), the Envoy container, health-sync, the task tags, the
# CONSUL_ECS_CONFIG_JSON around the kind-specific part, and the IAM policy documents.
#
# It creates no resource: the task definitions, roles and policies stay in the public
# modules, at the addresses upstream's state has them.

data "aws_region" "current" {}

locals {
  # mesh-init writes the service token and the Envoy bootstrap with mode 0600, so every
  # container that reads them (sidecar-proxy, health-sync) runs as the uid:gid mesh-init
  # runs as: the consul-ecs image's user, which owns the image's /consul. consul-client
  # stays root (as upstream) and hands the client token it writes to this uid.
  consul_ecs_user    = "5996:5996"
  consul_client_user = "0"

  data_volume     = "consul_data"
  binary_volume   = "consul_binary"
  data_mount_ro   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = true }
  data_mount_rw   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = false }
  binary_mount_ro = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true }
  binary_mount_rw = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = false }

  mesh_init_name     = "consul-ecs-mesh-init"
  consul_client_name = "consul-client"
  after_mesh_init    = [{ containerName = local.mesh_init_name, condition = "SUCCESS" }]

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
    name                   = local.mesh_init_name
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
    name             = local.consul_client_name
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

  # Essential by default (README, differences): a dead Envoy must stop the task rather
  # than leave one that ECS keeps running and Consul keeps routing to
  # (terraform-aws-consul-ecs #325). A gateway's Envoy is the gateway, essential upstream too.
  sidecar_proxy_container = {
    name                   = "sidecar-proxy"
    image                  = var.envoy_image
    essential              = var.sidecar_proxy_essential
    user                   = local.consul_ecs_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    entryPoint             = ["/consul/consul-ecs", "envoy-entrypoint"]
    command                = ["envoy", "--config-path", "/consul/envoy-bootstrap.json"]
    portMappings           = var.sidecar_proxy_port_mappings
    mountPoints            = [local.data_mount_ro]
    dependsOn              = local.after_mesh_init
    healthCheck = {
      command  = ["/consul/consul-ecs", "net-dial", "127.0.0.1:${var.sidecar_proxy_port}"]
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

  # health-sync also waits for the agent to have started (README, differences): ECS stops
  # containers in the reverse order of dependsOn, so it stops health-sync, whose shutdown
  # marks the checks critical and logs the tokens out through the agent, before it stops
  # consul-client. Upstream's health-sync depended on mesh-init only and was stopped
  # together with the agent, losing those last writes. consul-client has no health check,
  # so START is the condition there is.
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
    dependsOn              = concat(local.after_mesh_init, [{ containerName = local.consul_client_name, condition = "START" }])
    linuxParameters        = { initProcessEnabled = true }
  }

  containers = flatten(concat(
    [local.mesh_init_container, local.consul_client_container, local.sidecar_proxy_container],
    var.health_sync_enabled ? [local.health_sync_container] : [],
  ))
}
