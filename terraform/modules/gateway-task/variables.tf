# Inputs of gateway-task. Names, types, defaults and validation messages are those of
# terraform-aws-consul-ecs v0.6.2 (see ../../test/upstream-v0.6.2.json); the descriptions
# are ours. Only the consul_ecs_image default differs: it names this project's image.

variable "family" {
  description = "Family of the ECS task definition. It is the gateway's Consul service name (as given, not lower-cased) unless consul_service_name is set, and it prefixes the names of the IAM roles and policies and of the load balancer resources."
  type        = string
}

variable "consul_service_tags" {
  description = "Tags of the gateway's Consul registration."
  type        = list(string)
  default     = []
}

variable "consul_service_meta" {
  description = "Metadata of the gateway's Consul registration."
  type        = map(string)
  default     = {}
}

variable "consul_partition" {
  description = "Consul Enterprise admin partition of the gateway."
  type        = string
  default     = ""
}

variable "requires_compatibilities" {
  description = "Launch types the task definition must be compatible with."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
}

variable "cpu" {
  description = "CPU units of the whole task."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Memory of the whole task, in MiB."
  type        = number
  default     = 512
}

variable "iam_role_path" {
  description = "IAM path of the roles and policies this module creates. The acl-controller trusts roles under this path."
  type        = string
  default     = "/consul-ecs/"

  validation {
    error_message = "The iam_role_path must begin with '/'."
    condition     = var.iam_role_path != "" && substr(var.iam_role_path, 0, 1) == "/"
  }
}

variable "additional_task_role_policies" {
  description = "ARNs of extra policies to attach to the task role the module creates."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "ARNs of extra policies to attach to the execution role the module creates."
  type        = list(string)
  default     = []
}

variable "consul_image" {
  description = "Image of the Consul client agent container."
  type        = string
  default     = "hashicorp/consul:1.15.10"
}

variable "consul_ecs_image" {
  description = "Image of this project's consul-ecs (mesh-init and health-sync). The default names our image, not HashiCorp's."
  type        = string
  default     = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
}

variable "envoy_image" {
  description = "Image of the Envoy sidecar."
  type        = string
  default     = "envoyproxy/envoy-distroless:v1.23.10"
}

variable "retry_join" {
  description = "The Consul client agent's retry_join addresses."
  type        = list(string)
}

variable "consul_http_addr" {
  description = "URL of the Consul servers' HTTP(S) API. Required when acls is true."
  type        = string
  default     = ""
}

variable "consul_https_ca_cert_arn" {
  description = "Secrets Manager ARN of the CA certificate of the servers' HTTPS API."
  type        = string
  default     = ""
}

variable "client_token_auth_method_name" {
  description = "Consul auth method the client agent logs in with."
  type        = string
  default     = "iam-ecs-client-token"
}

variable "service_token_auth_method_name" {
  description = "Consul auth method mesh-init logs in with for the gateway's token."
  type        = string
  default     = "iam-ecs-service-token"
}

variable "tags" {
  description = "Tags of the task definition (the module's own consul.hashicorp.com/* tags win)."
  type        = map(string)
  default     = {}
}

variable "tls" {
  description = "Turn on TLS (auto_encrypt) for the client agent's RPC. Needs consul_server_ca_cert_arn."
  type        = bool
  default     = false
}

variable "consul_server_ca_cert_arn" {
  description = "Secrets Manager ARN of the Consul server CA certificate."
  type        = string
  default     = ""
}

variable "gossip_key_secret_arn" {
  description = "Secrets Manager ARN of the gossip encryption key; empty turns gossip encryption off."
  type        = string
  default     = ""
}

variable "acls" {
  description = "Consul ACLs are on: the client agent and mesh-init log in through the AWS IAM auth methods."
  type        = bool
  default     = false
}

variable "enable_acl_token_replication" {
  description = "Turn on ACL token replication in the client agent (needed with WAN federation)."
  type        = bool
  default     = false
}

variable "consul_datacenter" {
  description = "Consul datacenter of the client agent."
  type        = string
  default     = "dc1"
}

variable "consul_primary_datacenter" {
  description = "Primary Consul datacenter, with WAN federation."
  type        = string
  default     = ""
}

variable "consul_agent_configuration" {
  description = "Extra HCL configuration for the client agent."
  type        = string
  default     = ""
}

variable "audit_logging" {
  description = "Turn on the client agent's audit log (Consul Enterprise). Needs acls."
  type        = bool
  default     = false
}

variable "consul_service_name" {
  description = "Name to register the gateway under in Consul. Empty means the family."
  type        = string
  default     = ""
}

variable "consul_namespace" {
  description = "Consul Enterprise namespace of the gateway: a mesh gateway lives in the default namespace."
  type        = string
  default     = ""

  validation {
    error_message = "Gateway namespace must be 'default' or the empty string."
    condition     = var.consul_namespace == "" || var.consul_namespace == "default"
  }
}

variable "log_configuration" {
  description = "logConfiguration object given to every container of the task."
  type        = any
  default     = null
}

variable "ecs_cluster_arn" {
  description = "ARN of the ECS cluster the gateway service runs in."
  type        = string
}

variable "launch_type" {
  description = "Launch type of the gateway service: EC2 or FARGATE."
  type        = string
  default     = "FARGATE"
}

variable "subnets" {
  description = "Subnets of the gateway tasks. Private subnets need a NAT gateway for image pulls; public ones need assign_public_ip."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give the gateway tasks a public IP (needed on public subnets)."
  type        = bool
  default     = false
}

variable "security_groups" {
  description = "Security groups of the gateway tasks; none means the VPC's default group."
  type        = list(string)
  default     = []
}

variable "kind" {
  description = "Kind of gateway. Only mesh-gateway exists."
  type        = string

  validation {
    error_message = "Gateway kind must be 'mesh-gateway'."
    condition     = contains(["mesh-gateway"], var.kind)
  }
}

variable "lan_address" {
  description = "LAN address of the gateway. Empty means the task's address."
  type        = string
  default     = ""
}

variable "lan_port" {
  description = "LAN port of the gateway. 0 means 8443."
  type        = number
  default     = 0
}

variable "wan_address" {
  description = "WAN address of the gateway. Empty means the task's address, or the load balancer's DNS name when lb_enabled."
  type        = string
  default     = ""
}

variable "wan_port" {
  description = "WAN port of the gateway. 0 means the LAN port."
  type        = number
  default     = 0
}

variable "enable_mesh_gateway_wan_federation" {
  description = "The gateway carries WAN federation between datacenters (needs tls)."
  type        = bool
  default     = false
}

variable "lb_enabled" {
  description = "Create a network load balancer in front of the gateway for traffic from outside the VPC."
  type        = bool
  default     = false
}

variable "lb_vpc_id" {
  description = "VPC of the load balancer. Required with lb_enabled."
  type        = string
  default     = ""
}

variable "lb_subnets" {
  description = "Subnets of the load balancer (public ones for access from outside). Required with lb_enabled."
  type        = list(string)
  default     = []
}

variable "lb_ingress_rule_cidr_blocks" {
  description = "CIDR blocks allowed to reach the gateway through the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "lb_create_security_group" {
  description = "Create a security group with the ingress rule for the gateway tasks."
  type        = bool
  default     = true
}

variable "lb_modify_security_group" {
  description = "Add the ingress rule to an existing security group instead (lb_create_security_group must then be false)."
  type        = bool
  default     = false
}

variable "lb_modify_security_group_id" {
  description = "The security group to add the ingress rule to. Required with lb_modify_security_group."
  type        = string
  default     = ""
}

variable "consul_ecs_config" {
  description = "Extra consul-ecs config for the gateway: only consulLogin.{enabled,method,includeEntity,meta,region,stsEndpoint,serverIdHeaderValue}."
  type        = any
  default     = {}

  validation {
    error_message = "Only 'consulLogin' field is allowed in consul_ecs_config."
    condition     = alltrue([for k in keys(var.consul_ecs_config) : contains(["consulLogin"], k)])
  }

  validation {
    error_message = "Only the 'enabled', 'method', 'includeEntity', 'meta', 'region', 'stsEndpoint', and 'serverIdHeaderValue' fields are allowed in consul_ecs_config.consulLogin."
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "consulLogin", {})) : contains(["enabled", "method", "includeEntity", "meta", "region", "stsEndpoint", "serverIdHeaderValue"], k)])
  }
}
