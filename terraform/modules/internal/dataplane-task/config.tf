# CONSUL_ECS_CONFIG_JSON in the consul-ecs v0.10 format, one document for mesh-init and
# health-sync: the public module's kind-specific part plus the servers, the login, the
# transparent proxy and the bootstrap directory.

locals {
  # merge() skips a null argument, so without ACLs this is just the caller's extras.
  config_login = var.acls ? { enabled = true, method = var.service_token_auth_method_name } : null

  config = merge(var.config, {
    bootstrapDir  = local.data_mount_rw.containerPath
    consulLogin   = merge(local.config_login, var.consul_login_extra)
    consulServers = module.servers.config
    # As upstream, the module's keys cover every key consul_ecs_config.transparentProxy
    # may have, so that extra has no effect.
    transparentProxy = {
      enabled              = var.enable_transparent_proxy
      excludeInboundPorts  = var.exclude_inbound_ports
      excludeOutboundPorts = var.exclude_outbound_ports
      excludeOutboundCIDRs = var.exclude_outbound_cidrs
      excludeUIDs          = var.exclude_uids
      consulDNS            = { enabled = var.enable_consul_dns }
    }
  })

  encoded_config = jsonencode(local.config)
}
