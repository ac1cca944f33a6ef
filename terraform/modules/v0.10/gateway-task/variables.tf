# Inputs of the v0.10 (Consul Dataplane) gateway-task. Names, types and defaults are those of
# terraform-aws-consul-ecs v0.10.0; descriptions and validation messages are ours.
# consul_ecs_image names this project's image.

variable "family" {
  description = "Task definition family. It is the gateway's service name (as given) unless consul_service_name is set, and names the ECS service, the IAM roles and the load balancer resources."
  type        = string
}

variable "gateway_count" {
  description = "Number of gateway tasks (the ECS service's desired count)."
  type        = number
  default     = 1
}

variable "ecs_cluster_arn" {
  description = "Cluster of the gateway's ECS service."
  type        = string
}

variable "consul_service_name" {
  description = "The gateway's Consul service name; the family when empty."
  type        = string
  default     = ""
}

variable "consul_service_tags" {
  description = "Tags of the gateway's registration."
  type        = list(string)
  default     = []
}

variable "consul_service_meta" {
  description = "Metadata of the gateway's registration."
  type        = map(string)
  default     = {}
}

variable "consul_partition" {
  description = "Consul Enterprise admin partition; the gateway then lives in its default namespace."
  type        = string
  default     = ""
}

variable "requires_compatibilities" {
  description = "Launch types of the task definition. Transparent proxy needs exactly [\"EC2\"]."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
}

variable "launch_type" {
  description = "Launch type of the ECS service."
  type        = string
  default     = "FARGATE"
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
  default     = 256
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
  default     = 512
}

variable "iam_role_path" {
  description = "IAM path of the roles and policies; the controller trusts roles at this path."
  type        = string
  default     = "/consul-ecs/"

  validation {
    condition     = can(regex("^/(.*/)?$", var.iam_role_path))
    error_message = "iam_role_path must begin and end with '/'."
  }
}

variable "additional_task_role_policies" {
  description = "Policy ARNs attached to the task role."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "Policy ARNs attached to the execution role."
  type        = list(string)
  default     = []
}

variable "consul_image" {
  description = "Not used (kept because upstream declares it)."
  type        = string
  default     = "hashicorp/consul:2.0.1"
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

variable "consul_ecs_image" {
  description = "Image of this project's consul-ecs (mesh-init and health-sync). The default names our image, not HashiCorp's."
  type        = string
  default     = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
}

variable "consul_dataplane_image" {
  description = "Image of consul-dataplane."
  type        = string
  default     = "hashicorp/consul-dataplane:1.9.6"
}

variable "envoy_readiness_port" {
  description = "Port of Envoy's readiness listener, which the dataplane's health check dials."
  type        = number
  default     = 22000

  validation {
    condition     = var.envoy_readiness_port > 0 && var.envoy_readiness_port <= 65535
    error_message = "envoy_readiness_port must be between 1 and 65535."
  }

  validation {
    condition     = !contains([8300, 8301, 8302, 8500, 8501, 8502, 8600, 10000, 19000], var.envoy_readiness_port)
    error_message = "envoy_readiness_port must not be one of the ports reserved for Consul and Envoy: 8300, 8301, 8302, 8500, 8501, 8502, 8600, 10000, 19000."
  }
}

variable "log_configuration" {
  description = "logConfiguration of every container this module adds."
  type        = any
  default     = null
}

variable "consul_ca_cert_arn" {
  description = "Secrets Manager ARN of the CA for HTTPS and gRPC."
  type        = string
  default     = ""
}

variable "consul_https_ca_cert_arn" {
  description = "Secrets Manager ARN of the HTTPS CA (overrides consul_ca_cert_arn)."
  type        = string
  default     = ""
}

variable "consul_grpc_ca_cert_arn" {
  description = "Secrets Manager ARN of the gRPC CA (overrides consul_ca_cert_arn)."
  type        = string
  default     = ""
}

variable "service_token_auth_method_name" {
  description = "The aws-iam auth method the containers log in with."
  type        = string
  default     = "iam-ecs-service-token"
}

variable "tags" {
  description = "Tags of the task definition."
  type        = map(string)
  default     = {}
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

variable "acls" {
  description = "Log in with the aws-iam auth method."
  type        = bool
  default     = false
}

variable "kind" {
  description = "Gateway kind: mesh-gateway, terminating-gateway or api-gateway."
  type        = string

  validation {
    condition     = contains(["mesh-gateway", "terminating-gateway", "api-gateway"], var.kind)
    error_message = "kind must be mesh-gateway, terminating-gateway or api-gateway."
  }
}

variable "lan_address" {
  description = "LAN address of the gateway; empty means the task's address."
  type        = string
  default     = ""
}

variable "lan_port" {
  description = "LAN port of the gateway; 0 means 8443."
  type        = number
  default     = 0
}

variable "wan_address" {
  description = "WAN address; empty means the task's address, or the load balancer's DNS name with lb_enabled."
  type        = string
  default     = ""
}

variable "wan_port" {
  description = "WAN port; 0 means the LAN port."
  type        = number
  default     = 0
}

variable "enable_mesh_gateway_wan_federation" {
  description = "Mark the mesh gateway for WAN federation (needs tls)."
  type        = bool
  default     = false
}

variable "security_groups" {
  description = "Security groups of the gateway tasks."
  type        = list(string)
  default     = []
}

variable "subnets" {
  description = "Subnets of the gateway tasks."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give the gateway tasks public IPs."
  type        = bool
  default     = false
}

variable "lb_enabled" {
  description = "Create a network load balancer in front of the gateway."
  type        = bool
  default     = false
}

variable "lb_vpc_id" {
  description = "VPC of the load balancer; required with lb_enabled."
  type        = string
  default     = ""
}

variable "lb_subnets" {
  description = "Subnets of the load balancer; required with lb_enabled."
  type        = list(string)
  default     = []
}

variable "lb_ingress_rule_cidr_blocks" {
  description = "CIDR blocks allowed to reach the gateway through the load balancer."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "lb_create_security_group" {
  description = "With lb_enabled, create a security group for the load balancer's traffic."
  type        = bool
  default     = true
}

variable "lb_modify_security_group" {
  description = "Add the ingress rule to an existing security group instead."
  type        = bool
  default     = false
}

variable "lb_modify_security_group_id" {
  description = "The existing security group; required with lb_modify_security_group."
  type        = string
  default     = ""
}

variable "custom_load_balancer_config" {
  description = "load_balancer blocks of the ECS service when lb_enabled is false (e.g. an ALB in front of an API gateway)."
  type = list(object({
    target_group_arn = string
    container_name   = string
    container_port   = number
  }))
  default = []
}

variable "consul_ecs_config" {
  description = "Extras for CONSUL_ECS_CONFIG_JSON: consulLogin (transparentProxy is accepted and has no effect, as upstream)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.consul_ecs_config) : contains(["consulLogin", "transparentProxy"], k)])
    error_message = "consul_ecs_config may only contain consulLogin and transparentProxy."
  }

  validation {
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "consulLogin", {})) : contains(["enabled", "method", "includeEntity", "meta", "region", "stsEndpoint", "serverIdHeaderValue"], k)])
    error_message = "consul_ecs_config.consulLogin may only contain enabled, method, includeEntity, meta, region, stsEndpoint and serverIdHeaderValue."
  }
}

variable "http_config" {
  description = "Merged over consulServers.http (port, https, tls, tlsServerName, caCertFile)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.http_config) : contains(["port", "https", "tls", "tlsServerName", "caCertFile"], k)])
    error_message = "http_config may only contain port, https, tls, tlsServerName and caCertFile."
  }
}

variable "grpc_config" {
  description = "Merged over consulServers.grpc (port, tls, tlsServerName, caCertFile)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.grpc_config) : contains(["port", "tls", "tlsServerName", "caCertFile"], k)])
    error_message = "grpc_config may only contain port, tls, tlsServerName and caCertFile."
  }
}

variable "volumes" {
  description = "Extra task volumes; each is also mounted into consul-dataplane at its host_path (read_only, default true)."
  type        = any
  default     = []
}

variable "enable_transparent_proxy" {
  description = "Redirect the task's traffic through the dataplane (EC2 only)."
  type        = bool
  default     = true
}

variable "enable_consul_dns" {
  description = "Point the task's DNS at the dataplane's DNS proxy; needs transparent proxy."
  type        = bool
  default     = false
}

variable "exclude_inbound_ports" {
  description = "Inbound ports transparent proxy leaves alone."
  type        = list(number)
  default     = []
}

variable "exclude_outbound_ports" {
  description = "Outbound ports transparent proxy leaves alone."
  type        = list(number)
  default     = []
}

variable "exclude_outbound_cidrs" {
  description = "Outbound CIDRs transparent proxy leaves alone."
  type        = list(string)
  default     = []
}

variable "exclude_uids" {
  description = "UIDs whose traffic transparent proxy leaves alone."
  type        = list(string)
  default     = []
}

variable "extra_container_definitions" {
  description = "Extra containers, placed first and left as given."
  type        = any
  default     = []
}
