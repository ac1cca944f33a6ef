# The task role (what the containers may do) and the execution role (what ECS may do to
# start them), unless the caller passes its own: ../internal/task-roles.

module "roles" {
  source = "../../internal/task-roles"

  task_kind                          = "task"
  create_task_role                   = var.create_task_role
  task_role                          = var.task_role
  create_execution_role              = var.create_execution_role
  execution_role                     = var.execution_role
  family                             = var.family
  iam_role_path                      = var.iam_role_path
  acls                               = var.acls
  additional_task_role_policies      = var.additional_task_role_policies
  additional_execution_role_policies = var.additional_execution_role_policies
  service_name                       = local.service_name
  consul_namespace                   = var.consul_namespace
  log_configuration                  = var.log_configuration
  secret_arns                        = module.dataplane_task.secret_arns
}

locals {
  task_role_id       = module.roles.task_role_id
  task_role_arn      = module.roles.task_role_arn
  execution_role_id  = module.roles.execution_role_id
  execution_role_arn = module.roles.execution_role_arn
}

# The roles were resources of this module (and of upstream's); state follows them here.
moved {
  from = aws_iam_role.task
  to   = module.roles.aws_iam_role.task
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
  to   = module.roles.aws_iam_role.execution
}

moved {
  from = aws_iam_policy.execution
  to   = module.roles.aws_iam_policy.execution
}

moved {
  from = aws_iam_role_policy_attachment.execution
  to   = module.roles.aws_iam_role_policy_attachment.execution
}

moved {
  from = aws_iam_role_policy_attachment.additional_execution_policies
  to   = module.roles.aws_iam_role_policy_attachment.additional_execution_policies
}
