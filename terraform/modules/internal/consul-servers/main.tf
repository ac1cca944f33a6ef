# consul-servers (internal): how the consul-ecs v0.10 containers reach the Consul servers,
# written once for the tasks and the controller: the consulServers part of
# CONSUL_ECS_CONFIG_JSON and the CA certificates as secrets. It creates no resource.

variable "hosts" {
  description = "consulServers.hosts: an IP, a DNS name or exec=<command>."
  type        = string
}

variable "skip_server_watch" {
  description = "consulServers.skipServerWatch."
  type        = bool
}

variable "tls" {
  description = "TLS to the servers' HTTPS and gRPC ports (8501 and 8503 instead of 8500 and 8502)."
  type        = bool
}

variable "tls_server_name" {
  description = "consulServers.defaults.tlsServerName."
  type        = string
}

variable "ca_cert_file" {
  description = "consulServers.defaults.caCertFile, or null for no such key."
  type        = string
  default     = null
}

variable "http_config" {
  description = "Merged over consulServers.http."
  type        = any
}

variable "grpc_config" {
  description = "Merged over consulServers.grpc."
  type        = any
}

variable "consul_ca_cert_arn" {
  description = "Secret ARN of the CA for both HTTPS and gRPC, or \"\"."
  type        = string
}

variable "consul_https_ca_cert_arn" {
  description = "Secret ARN of the HTTPS CA (overrides the shared one), or \"\"."
  type        = string
}

variable "consul_grpc_ca_cert_arn" {
  description = "Secret ARN of the gRPC CA (overrides the shared one), or \"\"."
  type        = string
}

variable "ca_secrets_only_with_tls" {
  description = "Inject the CA secrets only with tls (the tasks, as upstream) or whenever an ARN is given (the controller, as upstream)."
  type        = bool
}

locals {
  # Each CA comes from its own secret or else the shared one.
  https_ca_arn = var.consul_https_ca_cert_arn != "" ? var.consul_https_ca_cert_arn : var.consul_ca_cert_arn
  grpc_ca_arn  = var.consul_grpc_ca_cert_arn != "" ? var.consul_grpc_ca_cert_arn : var.consul_ca_cert_arn

  ca_secrets = var.tls || !var.ca_secrets_only_with_tls ? concat(
    local.https_ca_arn != "" ? [{ name = "CONSUL_HTTPS_CACERT_PEM", valueFrom = local.https_ca_arn }] : [],
    local.grpc_ca_arn != "" ? [{ name = "CONSUL_GRPC_CACERT_PEM", valueFrom = local.grpc_ca_arn }] : [],
  ) : []
}

output "config" {
  description = "The consulServers object of CONSUL_ECS_CONFIG_JSON."
  value = {
    hosts           = var.hosts
    skipServerWatch = var.skip_server_watch
    defaults = merge(
      { tls = var.tls, tlsServerName = var.tls_server_name },
      var.ca_cert_file == null ? {} : { caCertFile = var.ca_cert_file },
    )
    http = merge({ port = var.tls ? 8501 : 8500, https = var.tls }, var.http_config)
    grpc = merge({ port = var.tls ? 8503 : 8502 }, var.grpc_config)
  }
}

output "ca_secrets" {
  description = "The secrets entries of the containers: CONSUL_HTTPS_CACERT_PEM and CONSUL_GRPC_CACERT_PEM."
  value       = local.ca_secrets
}
