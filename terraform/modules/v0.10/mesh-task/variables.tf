# Inputs of the v0.10 (Consul Dataplane) mesh-task. Names, types and defaults are those of
# terraform-aws-consul-ecs v0.10.0 (see ../../../test/upstream-v0.10.0.json); descriptions and
# validation messages are ours. consul_ecs_image names this project's image, and
# consul_dataplane_essential is ours (README, differences).

variable "family" {
  description = "Task definition family. Lower-cased, it is the default service name; it also prefixes the IAM names."
  type        = string
}

variable "consul_service_name" {
  description = "Consul service name; the lower-cased family when empty."
  type        = string
  default     = ""

  validation {
    condition     = var.consul_service_name == "" || can(regex("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", var.consul_service_name))
    error_message = "consul_service_name must be empty or lower case alphanumerics, '_' and '-', starting and ending with an alphanumeric."
  }
}

variable "consul_service_tags" {
  description = "Tags of the service registration."
  type        = list(string)
  default     = []
}

variable "consul_service_meta" {
  description = "Metadata of the service registration."
  type        = map(string)
  default     = {}
}

variable "consul_namespace" {
  description = "Consul Enterprise namespace of the service."
  type        = string
  default     = ""
}

variable "consul_partition" {
  description = "Consul Enterprise admin partition of the service."
  type        = string
  default     = ""
}

variable "requires_compatibilities" {
  description = "Launch types of the task definition. Transparent proxy needs exactly [\"EC2\"]."
  type        = list(string)
  default     = ["EC2", "FARGATE"]
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

variable "volumes" {
  description = "Extra task volumes (host_path, docker, EFS, FSx), after consul_data and consul_binary."
  type        = any
  default     = []
}

variable "create_task_role" {
  description = "Create the task role; false to pass one in task_role."
  type        = bool
  default     = true
}

variable "task_role" {
  description = "The task role when create_task_role is false."
  type = object({
    id  = string
    arn = string
  })
  default = {
    id  = null
    arn = null
  }
}

variable "create_execution_role" {
  description = "Create the execution role; false to pass one in execution_role."
  type        = bool
  default     = true
}

variable "execution_role" {
  description = "The execution role when create_execution_role is false."
  type = object({
    id  = string
    arn = string
  })
  default = {
    id  = null
    arn = null
  }
}

variable "iam_role_path" {
  description = "IAM path of the created roles and policies; the controller trusts roles at this path."
  type        = string
  default     = "/consul-ecs/"

  validation {
    condition     = can(regex("^/(.*/)?$", var.iam_role_path))
    error_message = "iam_role_path must begin and end with '/'."
  }
}

variable "additional_task_role_policies" {
  description = "Policy ARNs attached to the created task role."
  type        = list(string)
  default     = []
}

variable "additional_execution_role_policies" {
  description = "Policy ARNs attached to the created execution role."
  type        = list(string)
  default     = []
}

variable "skip_server_watch" {
  description = "Do not watch the servers for changes (with a load balancer in front of them)."
  type        = bool
  default     = false
}

variable "port" {
  description = "The application's port; required unless outbound_only."
  type        = number
  default     = 0
}

variable "outbound_only" {
  description = "The application takes no inbound traffic."
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
  default     = "hashicorp/consul-dataplane:2.0.1"
}

variable "consul_dataplane_essential" {
  description = "Whether consul-dataplane is essential, so that the task stops when it dies (terraform-aws-consul-ecs #325). Set false for upstream's behaviour."
  type        = bool
  default     = true
}

variable "envoy_public_listener_port" {
  description = "Port of Envoy's public (mesh) listener."
  type        = number
  default     = 20000

  validation {
    condition     = var.envoy_public_listener_port > 0 && var.envoy_public_listener_port <= 65535
    error_message = "envoy_public_listener_port must be between 1 and 65535."
  }

  validation {
    condition     = !contains([8300, 8301, 8302, 8500, 8501, 8502, 8600, 10000, 19000], var.envoy_public_listener_port)
    error_message = "envoy_public_listener_port must not be one of the ports reserved for Consul and Envoy: 8300, 8301, 8302, 8500, 8501, 8502, 8600, 10000, 19000."
  }
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
  default     = {}
}

variable "container_definitions" {
  description = "The application's containers."
  type        = any
}

variable "consul_server_hosts" {
  description = "The Consul servers: an IP, a DNS name or exec=<command>; no port."
  type        = string
}

variable "upstreams" {
  description = "Upstreams, in the proxy.upstreams format of CONSUL_ECS_CONFIG_JSON."
  type        = any
  default     = []

  validation {
    condition     = alltrue([for u in var.upstreams : contains(keys(u), "destinationName") && contains(keys(u), "localBindPort")])
    error_message = "Every upstream needs destinationName and localBindPort."
  }

  validation {
    condition     = alltrue(flatten([for u in var.upstreams : [for k in keys(u) : contains(["destinationType", "destinationNamespace", "destinationPartition", "destinationName", "destinationPeer", "datacenter", "localBindAddress", "localBindPort", "config", "meshGateway"], k)]]))
    error_message = "Upstream keys must be among destinationType, destinationNamespace, destinationPartition, destinationName, destinationPeer, datacenter, localBindAddress, localBindPort, config and meshGateway."
  }
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

variable "ca_cert_file" {
  description = "Path of a CA file in the containers; the CA secrets win."
  type        = string
  default     = ""
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

variable "acls" {
  description = "Log in with the aws-iam auth method."
  type        = bool
  default     = false
}

variable "application_shutdown_delay_seconds" {
  description = "With a delay > 0, application containers without an entryPoint run under app-entrypoint with this shutdown delay."
  type        = number
  default     = 0
}

variable "consul_ecs_config" {
  description = "Extras for CONSUL_ECS_CONFIG_JSON: service, proxy, consulLogin (transparentProxy is accepted and has no effect, as upstream)."
  type        = any
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.consul_ecs_config) : contains(["service", "proxy", "consulLogin", "transparentProxy"], k)])
    error_message = "consul_ecs_config may only contain service, proxy, consulLogin and transparentProxy."
  }

  validation {
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "service", {})) : contains(["enableTagOverride", "weights", "networkResilienceConfig"], k)])
    error_message = "consul_ecs_config.service may only contain enableTagOverride, weights and networkResilienceConfig."
  }

  validation {
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "proxy", {})) : contains(["meshGateway", "expose", "config"], k)])
    error_message = "consul_ecs_config.proxy may only contain meshGateway, expose and config."
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
