# CONSUL_ECS_CONFIG_JSON: one document, given to mesh-init and health-sync alike, in the
# consul-ecs v0.6.2 format (validate one with `consul-ecs validate-config`).

locals {
  config_service_extra = lookup(var.consul_ecs_config, "service", {})
  config_proxy_extra   = lookup(var.consul_ecs_config, "proxy", {})
  config_login_extra   = lookup(var.consul_ecs_config, "consulLogin", {})

  # merge() skips a null argument, so without ACLs this is just the caller's extras ({}
  # when there are none), as upstream.
  config_login = var.acls ? { enabled = true, method = var.service_token_auth_method_name } : null

  config = {
    consulHTTPAddr   = var.consul_http_addr
    consulCACertFile = var.consul_https_ca_cert_arn != "" ? "/consul/consul-https-ca-cert.pem" : ""
    consulLogin      = merge(local.config_login, local.config_login_extra)
    service = merge(
      {
        name      = local.service_name
        tags      = var.consul_service_tags
        port      = var.port
        meta      = var.consul_service_meta
        checks    = var.checks
        namespace = var.consul_namespace
        partition = var.consul_partition
      },
      local.config_service_extra,
    )
    proxy = merge(
      {
        publicListenerPort = var.envoy_public_listener_port
        upstreams          = var.upstreams
      },
      local.config_proxy_extra,
    )
    healthSyncContainers = local.defaulted_check_containers
    bootstrapDir         = local.data_mount_rw.containerPath
  }

  encoded_config = jsonencode(local.config)
}
