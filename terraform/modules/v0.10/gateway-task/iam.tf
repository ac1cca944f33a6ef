# The gateway's task and execution roles; a gateway always gets its own:
# ../internal/task-roles.

module "roles" {
  source = "../../internal/task-roles"

  task_kind                          = "gateway"
  family                             = var.family
  iam_role_path                      = var.iam_role_path
  acls                               = var.acls
  additional_task_role_policies      = var.additional_task_role_policies
  additional_execution_role_policies = var.additional_execution_role_policies
  service_name                       = local.service_name
  consul_namespace                   = local.namespace
  role_tags                          = { "consul.hashicorp.com.gateway-kind" = var.kind }
  log_configuration                  = var.log_configuration
  secret_arns                        = module.dataplane_task.secret_arns
}

# The roles were resources of this module (and of upstream's, without an index); state
# follows them here.
moved {
  from = aws_iam_role.task
  to   = module.roles.aws_iam_role.task[0]
}

moved {
  from = aws_iam_policy.task
  to   = module.roles.aws_iam_policy.task
}

moved {
  from = aws_iam_role_policy_attachment.task
  to   = module.roles.aws_iam_role_policy_attachment.task
}

moved {
  from = aws_iam_role_policy_attachment.additional_task_policies
  to   = module.roles.aws_iam_role_policy_attachment.additional_task_policies
}

moved {
  from = aws_iam_role.execution
  to   = module.roles.aws_iam_role.execution[0]
}

moved {
  from = aws_iam_policy.execution
  to   = module.roles.aws_iam_policy.execution[0]
}

moved {
  from = aws_iam_role_policy_attachment.execution
  to   = module.roles.aws_iam_role_policy_attachment.execution[0]
}

moved {
  from = aws_iam_role_policy_attachment.additional_execution_policies
  to   = module.roles.aws_iam_role_policy_attachment.additional_execution_policies
}
