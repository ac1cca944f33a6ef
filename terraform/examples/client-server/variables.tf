variable "name" {
  description = "Prefix of every name in the example."
  type        = string
  default     = "consul-ecs-example"
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
  description = "Security groups of the tasks: they must reach each other on 20000 (Envoy), the Consul servers on 8300-8302 and 8501, and the image registries."
  type        = list(string)
}

variable "consul_retry_join" {
  description = "Addresses of the Consul servers for the client agents' retry_join."
  type        = list(string)
}

variable "consul_http_addr" {
  description = "HTTPS URL of the Consul servers' API, e.g. https://consul.example.internal:8501."
  type        = string
}

variable "consul_bootstrap_token_secret_arn" {
  description = "Secrets Manager ARN of a Consul token with acl:write, for the ACL controller."
  type        = string
}

variable "consul_ca_cert_secret_arn" {
  description = "Secrets Manager ARN of the Consul CA certificate (PEM): both the RPC and the HTTPS CA."
  type        = string
}

variable "consul_gossip_key_secret_arn" {
  description = "Secrets Manager ARN of the gossip encryption key."
  type        = string
}

variable "consul_ecs_image" {
  description = "The consul-ecs image of this project."
  type        = string
  default     = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
}
