# Inputs of the internal agent-task module: what mesh-task and gateway-task pass through
# from their own (public) variables, plus the few values in which the two tasks differ.
# Types are left to the public modules, which declare and validate them.

variable "family" {
  description = "The task definition family."
  type        = string
}

variable "task_kind" {
  description = "\"task\" or \"gateway\"."
  type        = string
}

variable "service_name" {
  description = "The Consul service (or gateway) name, for the task and IAM role tags."
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

variable "consul_image" {
  description = "Image of the Consul client agent."
  type        = string
}

variable "envoy_image" {
  description = "Image of the Envoy sidecar (or gateway)."
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

variable "health_sync_enabled" {
  description = "Whether the task runs consul-ecs-health-sync."
  type        = bool
}

variable "sidecar_proxy_essential" {
  description = "Whether the sidecar-proxy container is essential."
  type        = bool
}

variable "sidecar_proxy_port" {
  description = "The port Envoy listens on and the health check dials."
  type        = number
}

variable "sidecar_proxy_port_mappings" {
  description = "portMappings of the sidecar-proxy container."
  type        = any
}

variable "retry_join" {
  description = "The agent's retry_join."
  type        = list(string)
}

variable "consul_http_addr" {
  description = "The Consul servers' HTTP(S) address."
  type        = string
}

variable "consul_https_ca_cert_arn" {
  description = "Secret ARN of the HTTPS CA, or \"\"."
  type        = string
}

variable "client_token_auth_method_name" {
  description = "Auth method of the agent's login."
  type        = string
}

variable "service_token_auth_method_name" {
  description = "Auth method of mesh-init's login."
  type        = string
}

variable "tls" {
  description = "Agent RPC TLS with auto_encrypt."
  type        = bool
}

variable "consul_server_ca_cert_arn" {
  description = "Secret ARN of the server CA, or \"\"."
  type        = string
}

variable "gossip_key_secret_arn" {
  description = "Secret ARN of the gossip key, or \"\"."
  type        = string
}

variable "acls" {
  description = "Whether ACLs are on."
  type        = bool
}

variable "enable_acl_token_replication" {
  description = "The agent's acl.enable_token_replication."
  type        = bool
}

variable "consul_datacenter" {
  description = "The agent's datacenter."
  type        = string
}

variable "consul_primary_datacenter" {
  description = "The agent's primary_datacenter, or \"\"."
  type        = string
}

variable "consul_agent_configuration" {
  description = "Extra agent HCL, given after the defaults."
  type        = string
}

variable "audit_logging" {
  description = "Enterprise audit logging on the agent."
  type        = bool
}

variable "consul_partition" {
  description = "Enterprise admin partition, or \"\"."
  type        = string
}

variable "consul_namespace" {
  description = "Enterprise namespace, or \"\"."
  type        = string
}
