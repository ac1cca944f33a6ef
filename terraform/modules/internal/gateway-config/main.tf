# gateway-config (internal): the `gateway` block of CONSUL_ECS_CONFIG_JSON, for gateway-task
# of both layouts (the same keys in v0.6.2 and v0.10; v0.10 may add healthCheckPort).
# It creates no resource.

variable "kind" {
  description = "Gateway kind."
  type        = string
}

variable "name" {
  description = "The gateway's service name."
  type        = string
}

variable "tags" {
  description = "Tags of the registration."
  type        = list(string)
}

variable "meta" {
  description = "Metadata of the registration."
  type        = map(string)
}

variable "enable_mesh_gateway_wan_federation" {
  description = "Adds the consul-wan-federation meta Consul looks for."
  type        = bool
}

variable "namespace" {
  description = "Namespace of the gateway."
  type        = string
}

variable "partition" {
  description = "Admin partition of the gateway."
  type        = string
}

variable "lan_address" {
  description = "LAN address (empty: the task's)."
  type        = string
}

variable "lan_port" {
  description = "LAN port."
  type        = number
}

variable "wan_address" {
  description = "WAN address (empty: the task's)."
  type        = string
}

variable "wan_port" {
  description = "WAN port."
  type        = number
}

variable "extra" {
  description = "More keys of the gateway block (v0.10: healthCheckPort)."
  type        = any
  default     = {}
}

output "config" {
  description = "The gateway block and the (empty) healthSyncContainers of CONSUL_ECS_CONFIG_JSON."
  value = {
    gateway = merge({
      kind       = var.kind
      name       = var.name
      tags       = var.tags
      meta       = merge(var.meta, var.enable_mesh_gateway_wan_federation ? { "consul-wan-federation" = "1" } : {})
      namespace  = var.namespace
      partition  = var.partition
      lanAddress = { address = var.lan_address, port = var.lan_port }
      wanAddress = { address = var.wan_address, port = var.wan_port }
    }, var.extra)
    # A gateway has no application containers whose health to sync.
    healthSyncContainers = []
  }
}
