# Inputs of the v0.10 controller. Names, types and defaults are those of
# terraform-aws-consul-ecs v0.10.0's modules/controller; descriptions and validation
# messages are ours. consul_ecs_image names this project's image.

variable "consul_ecs_image" {
  description = "Image of this project's consul-ecs. The default names our image, not HashiCorp's."
  type        = string
  default     = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
}

variable "ecs_cluster_arn" {
  description = "Cluster of the controller's ECS service; the controller reaps the tasks of this cluster."
  type        = string
}

variable "region" {
  description = "Not used: the controller takes the region from the task metadata (kept because upstream declares it)."
  type        = string
}

variable "requires_compatibilities" {
  description = "Launch types of the task definition."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
}

variable "launch_type" {
  description = "Launch type of the ECS service."
  type        = string
  default     = "FARGATE"
}

variable "consul_bootstrap_token_secret_arn" {
  description = "Secrets Manager ARN of the token the controller uses (acl:write, node:write; operator:write on Enterprise), injected as CONSUL_HTTP_TOKEN."
  type        = string
}

variable "log_configuration" {
  description = "logConfiguration of the controller container."
  type        = any
  default     = null
}

variable "iam_role_path" {
  description = "The auth method trusts the task roles at this path (controller.iamRolePath)."
  type        = string
  default     = "/consul-ecs/"
}

variable "subnets" {
  description = "Subnets of the controller's ECS service."
  type        = list(string)
}

variable "consul_server_hosts" {
  description = "The Consul servers: an IP, a DNS name or exec=<command>; no port."
  type        = string
}

variable "skip_server_watch" {
  description = "Do not watch the servers for changes (with a load balancer in front of them)."
  type        = bool
  default     = false
}

variable "name_prefix" {
  description = "Prefix of the task definition family and the IAM role names."
  type        = string
}

variable "consul_ca_cert_arn" {
  description = "Secrets Manager ARN of the CA for HTTPS and gRPC."
  type        = string
  default     = ""
}

variable "consul_grpc_ca_cert_arn" {
  description = "Secrets Manager ARN of the gRPC CA (overrides consul_ca_cert_arn)."
  type        = string
  default     = ""
}

variable "consul_https_ca_cert_arn" {
  description = "Secrets Manager ARN of the HTTPS CA (overrides consul_ca_cert_arn)."
  type        = string
  default     = ""
}

variable "assign_public_ip" {
  description = "Give the controller task a public IP."
  type        = bool
  default     = false
}

variable "consul_partitions_enabled" {
  description = "Consul Enterprise admin partitions (controller.partitionsEnabled)."
  type        = bool
  default     = false
}

variable "tls" {
  description = "TLS to the servers' HTTPS and gRPC ports (8501, 8503)."
  type        = bool
  default     = false
}

variable "tls_server_name" {
  description = "Server name the TLS connections verify."
  type        = string
  default     = ""
}

variable "consul_partition" {
  description = "The partition the controller manages, with consul_partitions_enabled."
  type        = string
  default     = "default"
}

variable "security_groups" {
  description = "Security groups of the controller's ECS service."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "Policy ARNs attached to the execution role."
  type        = list(string)
  default     = []
}

variable "http_config" {
  description = "Merged over consulServers.http (port, https, tls, tlsServerName)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.http_config) : contains(["port", "https", "tls", "tlsServerName"], k)])
    error_message = "http_config may only contain port, https, tls and tlsServerName."
  }
}

variable "grpc_config" {
  description = "Merged over consulServers.grpc (port, tls, tlsServerName)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.grpc_config) : contains(["port", "tls", "tlsServerName"], k)])
    error_message = "grpc_config may only contain port, tls and tlsServerName."
  }
}
