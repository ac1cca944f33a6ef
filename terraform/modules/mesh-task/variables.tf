# Inputs of mesh-task. Names, types, defaults and validation messages are those of
# terraform-aws-consul-ecs v0.6.2 (see ../../test/upstream-v0.6.2.json); the descriptions
# are ours. Only the consul_ecs_image default differs: it names this project's image.

variable "family" {
  description = "Family of the ECS task definition. Lower-cased, it is the Consul service name unless consul_service_name is set, and it prefixes the names of the IAM roles and policies this module creates."
  type        = string
}

variable "consul_service_name" {
  description = "Name to register the service under in Consul. Empty means the lower-cased family."
  type        = string
  default     = ""

  validation {
    error_message = "The consul_service_name must be lower case. It must match the regex, '^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$'."
    condition     = var.consul_service_name == "" || can(regex("^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$", var.consul_service_name))
  }
}

variable "consul_service_tags" {
  description = "Tags of the Consul service registration."
  type        = list(string)
  default     = []
}

variable "consul_service_meta" {
  description = "Metadata of the Consul service registration."
  type        = map(string)
  default     = {}
}

variable "consul_namespace" {
  description = "Consul Enterprise namespace of the service. Must be set together with consul_partition."
  type        = string
  default     = ""
}

variable "consul_partition" {
  description = "Consul Enterprise admin partition of the service. Must be set together with consul_namespace."
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

variable "volumes" {
  description = "Extra task volumes, each a map with name and optionally host_path, docker_volume_configuration, efs_volume_configuration or fsx_windows_file_server_volume_configuration (the attribute names of aws_ecs_task_definition)."
  type        = any
  default     = []
}

variable "create_task_role" {
  description = "Create the task role. Set to false when passing task_role."
  type        = bool
  default     = true
}

variable "task_role" {
  description = "An existing task role ({id, arn}); needs create_task_role = false. With ACLs it must allow iam:GetRole on itself and carry the consul.hashicorp.com.service-name (and consul.hashicorp.com.namespace) tags."
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
  description = "Create the execution role. Set to false when passing execution_role."
  type        = bool
  default     = true
}

variable "execution_role" {
  description = "An existing execution role ({id, arn}); needs create_execution_role = false."
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

variable "port" {
  description = "Port the application listens on; the Consul service port. Required unless outbound_only is true."
  type        = number
  default     = 0
}

variable "outbound_only" {
  description = "The application only makes requests and serves none (then port may stay 0)."
  type        = bool
  default     = false
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

variable "envoy_public_listener_port" {
  description = "Port of Envoy's public listener, which other services in the mesh connect to."
  type        = number
  default     = 20000

  validation {
    error_message = "The envoy_public_listener_port must be greater than 0 and less than or equal to 65535."
    condition     = var.envoy_public_listener_port > 0 && var.envoy_public_listener_port <= 65535
  }

  validation {
    error_message = "The envoy_public_listener_port must not conflict with the following ports that are reserved for Consul and Envoy: 8300, 8301, 8302, 8500, 8501, 8502, 8600, 19000."
    condition     = !contains([8300, 8301, 8302, 8500, 8501, 8502, 8600, 19000], var.envoy_public_listener_port)
  }
}

# Ours, not upstream's (README, differences): upstream's sidecar was not essential, so a
# dead Envoy left a task that ECS kept running and Consul kept routing to
# (terraform-aws-consul-ecs #325).
variable "sidecar_proxy_essential" {
  description = "Whether the sidecar-proxy (Envoy) container is essential, so that the task stops when Envoy dies. Set false for upstream's behaviour."
  type        = bool
  default     = true
}

variable "log_configuration" {
  description = "logConfiguration object given to every container this module adds."
  type        = any
  default     = {}
}

variable "container_definitions" {
  description = "The application's container definitions (ECS JSON field names). Left untyped on purpose: definitions differ in shape."
  type        = any
}

variable "upstreams" {
  description = "Upstreams of the service: the proxy.upstreams list of the consul-ecs config."
  type        = any
  default     = []

  validation {
    error_message = "Upstream fields 'destinationName' and 'localBindPort' are required."
    condition = alltrue(flatten([
      for u in var.upstreams : [can(lookup(u, "destinationName")), can(lookup(u, "localBindPort"))]
    ]))
  }

  validation {
    error_message = "Upstream fields must be one of 'destinationType', 'destinationNamespace', 'destinationPartition', 'destinationName', 'datacenter', 'localBindAddress', 'localBindPort', 'config', or 'meshGateway'."
    condition = alltrue(flatten([
      for u in var.upstreams : [
        for k in keys(u) : contains(["destinationType", "destinationNamespace", "destinationPartition", "destinationName", "datacenter", "localBindAddress", "localBindPort", "config", "meshGateway"], k)
      ]
    ]))
  }
}

variable "checks" {
  description = "Consul checks of the service: the service.checks list of the consul-ecs config. When empty, the ECS health checks of the application containers are synced to Consul instead."
  type        = any
  default     = []

  validation {
    error_message = "Check fields must be one of 'checkId', 'name', 'args', 'items', 'interval', 'timeout', 'ttl', 'http', 'header', 'method', 'body', 'tcp', 'status', 'notes', 'tlsServerName', 'tlsSkipVerify', 'grpc', 'grpcUseTls', 'h2ping', 'h2pingUseTls', 'aliasNode', 'aliasService', 'successBeforePassing', or 'failuresBeforeCritical'."
    condition = alltrue(flatten([
      for c in var.checks : [
        for k in keys(c) : contains(["checkId", "name", "args", "items", "interval", "timeout", "ttl", "http", "header", "method", "body", "tcp", "status", "notes", "tlsServerName", "tlsSkipVerify", "grpc", "grpcUseTls", "h2ping", "h2pingUseTls", "aliasNode", "aliasService", "successBeforePassing", "failuresBeforeCritical"], k)
      ]
    ]))
  }
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
  description = "Consul auth method mesh-init logs in with for the service token."
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

variable "application_shutdown_delay_seconds" {
  description = "When above 0, every application container without an entryPoint is started through consul-ecs app-entrypoint, which holds back ECS's SIGTERM for this many seconds. The image's own ENTRYPOINT is then bypassed, so such containers need an explicit command."
  type        = number
  default     = 0
}

variable "consul_ecs_config" {
  description = "Extra consul-ecs config: service.{enableTagOverride,weights}, proxy.{meshGateway,expose,config} and consulLogin.{enabled,method,includeEntity,meta,region,stsEndpoint,serverIdHeaderValue}."
  type        = any
  default     = {}

  validation {
    error_message = "Only the 'service', 'proxy', and 'consulLogin' fields are allowed in consul_ecs_config."
    condition     = alltrue([for k in keys(var.consul_ecs_config) : contains(["service", "proxy", "consulLogin"], k)])
  }

  validation {
    error_message = "Only the 'enableTagOverride' and 'weights' fields are allowed in consul_ecs_config.service."
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "service", {})) : contains(["enableTagOverride", "weights"], k)])
  }

  validation {
    error_message = "Only the 'meshGateway', 'expose', and 'config' fields are allowed in consul_ecs_config.proxy."
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "proxy", {})) : contains(["meshGateway", "expose", "config"], k)])
  }

  validation {
    error_message = "Only the 'passing' and 'warning' fields are allowed in consul_ecs_config.service.weights."
    condition     = alltrue([for k in keys(lookup(lookup(var.consul_ecs_config, "service", {}), "weights", {})) : contains(["passing", "warning"], k)])
  }

  validation {
    error_message = "Only the 'mode' field is allowed in consul_ecs_config.proxy.meshGateway."
    condition     = alltrue([for k in keys(lookup(lookup(var.consul_ecs_config, "proxy", {}), "meshGateway", {})) : contains(["mode"], k)])
  }

  validation {
    error_message = "Only the 'checks' and 'paths' fields are allowed in consul_ecs_config.proxy.expose."
    condition     = alltrue([for k in keys(lookup(lookup(var.consul_ecs_config, "proxy", {}), "expose", {})) : contains(["checks", "paths"], k)])
  }

  validation {
    error_message = "Only the 'listenerPort', 'path', 'localPathPort', and 'protocol' fields are allowed in each item of consul_ecs_config.proxy.expose.paths[*]."
    condition = alltrue(flatten([
      for p in lookup(lookup(lookup(var.consul_ecs_config, "proxy", {}), "expose", {}), "paths", []) : [
        for k in keys(p) : contains(["listenerPort", "path", "localPathPort", "protocol"], k)
      ]
    ]))
  }

  validation {
    error_message = "Only the 'enabled', 'method', 'includeEntity', 'meta', 'region', 'stsEndpoint', and 'serverIdHeaderValue' fields are allowed in consul_ecs_config.consulLogin."
    condition     = alltrue([for k in keys(lookup(var.consul_ecs_config, "consulLogin", {})) : contains(["enabled", "method", "includeEntity", "meta", "region", "stsEndpoint", "serverIdHeaderValue"], k)])
  }
}

variable "audit_logging" {
  description = "Turn on the client agent's audit log (Consul Enterprise). Needs acls."
  type        = bool
  default     = false
}
