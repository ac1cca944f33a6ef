variable "name" {
  description = "Prefix of every name in the example."
  type        = string
  default     = "consul-ecs-dataplane-example"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "subnets" {
  description = "Private subnets (with a NAT gateway) for the tasks."
  type        = list(string)
}

variable "security_groups" {
  description = "Security groups of the tasks: they must reach each other on 20000 (Envoy), the Consul servers on 8501 (HTTPS) and 8503 (gRPC), and the image registries."
  type        = list(string)
}

variable "consul_server_hosts" {
  description = "The Consul servers: a DNS name, an IP, or exec=<command> (go-netaddrs); no port."
  type        = string
}

variable "consul_bootstrap_token_secret_arn" {
  description = "Secrets Manager ARN of a Consul token with acl:write and node:write, for the controller."
  type        = string
}

variable "consul_ca_cert_secret_arn" {
  description = "Secrets Manager ARN of the Consul CA certificate (PEM), for HTTPS and gRPC."
  type        = string
}

variable "consul_ecs_image" {
  description = "The consul-ecs image of this project."
  type        = string
  default     = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
}
