# CONSUL_ECS_CONFIG_JSON of the gateway, in the consul-ecs v0.6.2 format.

locals {
  config_login_extra = lookup(var.consul_ecs_config, "consulLogin", {})
  config_login       = var.acls ? { enabled = true, method = var.service_token_auth_method_name } : null

  config = {
    consulHTTPAddr   = var.consul_http_addr
    consulCACertFile = var.consul_https_ca_cert_arn != "" ? "/consul/consul-https-ca-cert.pem" : ""
    consulLogin      = merge(local.config_login, local.config_login_extra)
    gateway = {
      kind      = var.kind
      name      = local.service_name
      tags      = var.consul_service_tags
      meta      = merge(var.consul_service_meta, var.enable_mesh_gateway_wan_federation ? { "consul-wan-federation" = "1" } : {})
      namespace = var.consul_namespace
      partition = var.consul_partition
      lanAddress = {
        address = var.lan_address
        port    = local.lan_port
      }
      wanAddress = {
        address = local.wan_address
        port    = local.wan_port
      }
    }
    healthSyncContainers = []
    bootstrapDir         = local.data_mount_rw.containerPath
  }

  encoded_config = jsonencode(local.config)
}
