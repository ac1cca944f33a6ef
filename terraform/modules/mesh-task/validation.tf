# Checks across variables. Terraform of the versions upstream supports has no way to fail a
# plan with a message except an error, so each rule calls file() with its message as the
# path: the plan fails with "no file exists at ERROR: …". The messages are upstream's; its
# acceptance tests and users' scripts match on them.

locals {
  require_port_unless_outbound_only           = !var.outbound_only && var.port == 0 ? file("ERROR: port must be set if outbound_only is false") : null
  require_ca_cert_if_tls                      = var.tls && var.consul_server_ca_cert_arn == "" ? file("ERROR: consul_server_ca_cert_arn must be set if tls is true") : null
  require_http_addr_if_acls                   = var.acls && var.consul_http_addr == "" ? file("ERROR: consul_http_addr must be set if acls is true") : null
  require_namespace_with_partition            = var.consul_partition != "" && var.consul_namespace == "" ? file("ERROR: consul_namespace must be set if consul_partition is set") : null
  require_partition_with_namespace            = var.consul_namespace != "" && var.consul_partition == "" ? file("ERROR: consul_partition must be set if consul_namespace is set") : null
  no_additional_task_policies_for_passed      = !var.create_task_role && length(var.additional_task_role_policies) > 0 ? file("ERROR: cannot set additional_task_role_policies when create_task_role=false") : null
  no_additional_execution_policies_for_passed = !var.create_execution_role && length(var.additional_execution_role_policies) > 0 ? file("ERROR: cannot set additional_execution_role_policies when create_execution_role=false") : null
  require_acls_for_audit_logging              = var.audit_logging && !var.acls ? file("ERROR: ACLs must be enabled if audit logging is enabled") : null
}
