# dataplane-task (internal): what a consul-ecs v0.10 (Consul Dataplane) task of mesh-task
# and of gateway-task has in common, written once: mesh-init, consul-dataplane,
# health-sync, the CA secrets, the consulServers/transparentProxy part of
# CONSUL_ECS_CONFIG_JSON and the task tags. It creates no resource (the public modules hold
# the task definitions; ../task-roles the roles).

locals {
  # The uids consul-ecs v0.10 hard-codes: transparent proxy lets 5995 (the proxy) and 5996
  # (health-sync) past the redirection, so the containers must run as exactly these.
  dataplane_user   = "5995"
  health_sync_user = "5996"
  # mesh-init changes iptables (and resolv.conf) as root with NET_ADMIN under transparent
  # proxy; otherwise it runs as the consul-ecs image's user, as every other consul-ecs
  # container here, which owns the image's /consul.
  mesh_init_user = var.enable_transparent_proxy ? "0" : "5996:5996"

  data_volume     = "consul_data"
  binary_volume   = "consul_binary"
  data_mount_ro   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = true }
  data_mount_rw   = { sourceVolume = local.data_volume, containerPath = "/consul", readOnly = false }
  binary_mount_ro = { sourceVolume = local.binary_volume, containerPath = "/bin/consul-inject", readOnly = true }

  mesh_init_name  = "consul-ecs-mesh-init"
  dataplane_name  = "consul-dataplane"
  after_mesh_init = [{ containerName = local.mesh_init_name, condition = "SUCCESS" }]

  ca_secrets = module.servers.ca_secrets

  mesh_init_container = {
    name  = local.mesh_init_name
    image = var.consul_ecs_image
    # Better than upstream (README): read-only unless mesh-init must change iptables and
    # resolv.conf (transparent proxy).
    essential              = false
    user                   = local.mesh_init_user
    readonlyRootFilesystem = !var.enable_transparent_proxy
    logConfiguration       = var.log_configuration
    command                = ["mesh-init"]
    mountPoints            = [local.data_mount_rw, local.binary_mount_ro]
    cpu                    = 0
    volumesFrom            = []
    environment            = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.encoded_config }]
    secrets                = local.ca_secrets
    # No capabilities key at all without transparent proxy: upstream's empty
    # `capabilities = {}` is dropped by ECS and shows as a change on every plan
    # (terraform-aws-consul-ecs #318).
    linuxParameters = var.enable_transparent_proxy ? { initProcessEnabled = true, capabilities = { add = ["NET_ADMIN"] } } : { initProcessEnabled = true }
  }

  # Essential by default (README, differences): a dead dataplane must stop the task rather
  # than leave one that ECS keeps running and Consul keeps routing to
  # (terraform-aws-consul-ecs #325).
  dataplane_container = {
    name                   = local.dataplane_name
    image                  = var.consul_dataplane_image
    essential              = var.dataplane_essential
    user                   = local.dataplane_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    entryPoint             = ["/consul/consul-ecs", "envoy-entrypoint"]
    command                = ["consul-dataplane", "-config-file", "/consul/consul-dataplane.json"]
    portMappings           = var.dataplane_port_mappings
    mountPoints            = concat([local.data_mount_ro], var.dataplane_extra_mounts)
    dependsOn              = local.after_mesh_init
    healthCheck = {
      command  = ["/consul/consul-ecs", "net-dial", "127.0.0.1:${var.envoy_readiness_port}"]
      interval = 5
      retries  = 10
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
    user                   = local.health_sync_user
    readonlyRootFilesystem = true
    logConfiguration       = var.log_configuration
    command                = ["health-sync"]
    cpu                    = 0
    volumesFrom            = []
    environment            = [{ name = "CONSUL_ECS_CONFIG_JSON", value = local.encoded_config }]
    secrets                = local.ca_secrets
    portMappings           = []
    mountPoints            = [local.data_mount_ro]
    dependsOn              = local.after_mesh_init
    linuxParameters        = { initProcessEnabled = true }
  }

  containers = [local.mesh_init_container, local.dataplane_container, local.health_sync_container]
}

module "servers" {
  source = "../consul-servers"

  hosts                    = var.consul_server_hosts
  skip_server_watch        = var.skip_server_watch
  tls                      = var.tls
  tls_server_name          = var.tls_server_name
  ca_cert_file             = var.ca_cert_file
  http_config              = var.http_config
  grpc_config              = var.grpc_config
  consul_ca_cert_arn       = var.consul_ca_cert_arn
  consul_https_ca_cert_arn = var.consul_https_ca_cert_arn
  consul_grpc_ca_cert_arn  = var.consul_grpc_ca_cert_arn
  ca_secrets_only_with_tls = true
}

module "identity" {
  source = "../task-identity"

  family           = var.family
  task_kind        = var.task_kind
  service_name     = var.service_name
  consul_namespace = var.consul_namespace
  consul_partition = var.consul_partition
  module_version   = "0.10.0"
  tags             = var.tags
}
