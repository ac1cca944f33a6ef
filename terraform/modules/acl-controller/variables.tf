# Inputs of acl-controller. Names, types and defaults are those of terraform-aws-consul-ecs
# v0.6.2 (see ../../test/upstream-v0.6.2.json); the descriptions are ours. Only the
# consul_ecs_image default differs: it names this project's image.

variable "consul_ecs_image" {
  description = "Image of this project's consul-ecs, which runs the controller. The default names our image, not HashiCorp's."
  type        = string
  default     = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
}

variable "ecs_cluster_arn" {
  description = "ARN of the ECS cluster the controller runs in and watches."
  type        = string
}

variable "region" {
  description = "AWS region of the cluster. Kept for compatibility; the module does not use it."
  type        = string
}

variable "requires_compatibilities" {
  description = "Launch types the task definition must be compatible with."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
}

variable "launch_type" {
  description = "Launch type of the controller service: EC2 or FARGATE."
  type        = string
  default     = "FARGATE"
}

variable "consul_bootstrap_token_secret_arn" {
  description = "Secrets Manager ARN of the Consul token the controller uses; it needs acl:write."
  type        = string
}

variable "log_configuration" {
  description = "logConfiguration object of the controller container."
  type        = any
  default     = null
}

variable "iam_role_path" {
  description = "The controller lets IAM roles under this path log in to the aws-iam auth methods it sets up."
  type        = string
  default     = "/consul-ecs/"
}

variable "subnets" {
  description = "Subnets of the controller task. Private subnets need a NAT gateway for image pulls; public ones need assign_public_ip."
  type        = list(string)
}

variable "consul_server_http_addr" {
  description = "Full URL (scheme, host and port) of the Consul servers' HTTP(S) API, e.g. https://consul.example.com:8501."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the names of everything this module creates. Must not be empty."
  type        = string
}

variable "consul_server_ca_cert_arn" {
  description = "Secrets Manager ARN of the Consul server CA certificate."
  type        = string
  default     = ""
}

variable "assign_public_ip" {
  description = "Give the controller task a public IP (needed on public subnets)."
  type        = bool
  default     = false
}

variable "consul_partitions_enabled" {
  description = "Consul Enterprise admin partitions are in use."
  type        = bool
  default     = false
}

variable "consul_partition" {
  description = "Admin partition the controller manages (Consul Enterprise)."
  type        = string
  default     = "default"
}

variable "security_groups" {
  description = "Security groups of the controller task; none means the VPC's default group."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "ARNs of extra policies to attach to the controller's execution role."
  type        = list(string)
  default     = []
}
