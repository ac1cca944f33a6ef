# Inputs of the internal dataplane-task module: what the v0.10 mesh-task and gateway-task
# pass through from their own (public, validated) variables, plus where the two differ.

variable "family" {
  description = "The task definition family."
  type        = string
}

variable "task_kind" {
  description = "\"task\" or \"gateway\": how the IAM policy descriptions name the task."
  type        = string
}

variable "service_name" {
  description = "The Consul service (or gateway) name, for the task tags."
  type        = string
}

variable "tags" {
  description = "The caller's task definition tags; the consul.hashicorp.com ones win."
  type        = map(string)
}

variable "consul_ecs_image" {
  description = "Image of mesh-init and health-sync."
  type        = string
}

variable "consul_dataplane_image" {
  description = "Image of consul-dataplane."
  type        = string
}

variable "log_configuration" {
  description = "ECS logConfiguration of every generated container."
  type        = any
}

variable "config" {
  description = "The kind-specific part of CONSUL_ECS_CONFIG_JSON (service and proxy, or gateway; healthSyncContainers)."
  type        = any
}

variable "consul_login_extra" {
  description = "consul_ecs_config.consulLogin of the caller, merged over the login this module sets."
  type        = any
}

variable "acls" {
  description = "Whether the containers log in with the aws-iam auth method."
  type        = bool
}

variable "service_token_auth_method_name" {
  description = "The auth method of the login."
  type        = string
}

variable "consul_server_hosts" {
  description = "consulServers.hosts."
  type        = string
}

variable "skip_server_watch" {
  description = "consulServers.skipServerWatch."
  type        = bool
}

variable "tls" {
  description = "TLS to the servers' HTTP and gRPC ports."
  type        = bool
}

variable "tls_server_name" {
  description = "consulServers.defaults.tlsServerName."
  type        = string
}

variable "ca_cert_file" {
  description = "consulServers.defaults.caCertFile, or null for none (gateway-task has no such input)."
  type        = string
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

variable "http_config" {
  description = "Merged over consulServers.http."
  type        = any
}

variable "grpc_config" {
  description = "Merged over consulServers.grpc."
  type        = any
}

variable "enable_transparent_proxy" {
  description = "iptables redirection by mesh-init (root with NET_ADMIN)."
  type        = bool
}

variable "enable_consul_dns" {
  description = "mesh-init points resolv.conf at the dataplane's DNS proxy."
  type        = bool
}

variable "exclude_inbound_ports" {
  description = "transparentProxy.excludeInboundPorts."
  type        = list(number)
}

variable "exclude_outbound_ports" {
  description = "transparentProxy.excludeOutboundPorts."
  type        = list(number)
}

variable "exclude_outbound_cidrs" {
  description = "transparentProxy.excludeOutboundCIDRs."
  type        = list(string)
}

variable "exclude_uids" {
  description = "transparentProxy.excludeUIDs."
  type        = list(string)
}

variable "dataplane_essential" {
  description = "Whether the consul-dataplane container is essential."
  type        = bool
}

variable "envoy_readiness_port" {
  description = "The port the dataplane's health check dials."
  type        = number
}

variable "dataplane_port_mappings" {
  description = "portMappings of the consul-dataplane container."
  type        = any
}

variable "dataplane_extra_mounts" {
  description = "mountPoints of the consul-dataplane container besides /consul."
  type        = any
}

variable "consul_partition" {
  description = "Enterprise admin partition, or \"\" (task tag)."
  type        = string
}

variable "consul_namespace" {
  description = "Enterprise namespace, or \"\" (task and role tags)."
  type        = string
}
