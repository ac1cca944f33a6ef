# CONSUL_ECS_CONFIG_JSON: one document, given to mesh-init and health-sync alike, in the
# consul-ecs v0.6.2 format (validate one with `consul-ecs validate-config`). The public
# module gives the kind-specific part (service and proxy, or gateway; healthSyncContainers).

locals {
  # merge() skips a null argument, so without ACLs this is just the caller's extras ({}
  # when there are none), as upstream.
  config_login = var.acls ? { enabled = true, method = var.service_token_auth_method_name } : null

  config = merge(var.config, {
    consulHTTPAddr   = var.consul_http_addr
    consulCACertFile = var.consul_https_ca_cert_arn != "" ? "/consul/consul-https-ca-cert.pem" : ""
    consulLogin      = merge(local.config_login, var.consul_login_extra)
    bootstrapDir     = local.data_mount_rw.containerPath
  })

  encoded_config = jsonencode(local.config)
}
