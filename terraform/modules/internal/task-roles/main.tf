# task-roles (internal): the task role (what the containers may do) and the execution role
# (what ECS may do to start them) of a consul-ecs task, unless the caller passes its own;
# written once for mesh-task and gateway-task of both layouts. The public modules move
# upstream's addresses here with `moved` blocks.

locals {
  task_role_id       = var.create_task_role ? aws_iam_role.task[0].id : var.task_role.id
  task_role_arn      = var.create_task_role ? aws_iam_role.task[0].arn : var.task_role.arn
  execution_role_id  = var.create_execution_role ? aws_iam_role.execution[0].id : var.execution_role.id
  execution_role_arn = var.create_execution_role ? aws_iam_role.execution[0].arn : var.execution_role.arn
}

module "identity" {
  source = "../task-identity"

  family            = var.family
  task_kind         = var.task_kind
  service_name      = var.service_name
  consul_namespace  = var.consul_namespace
  role_tags         = var.role_tags
  secret_arns       = var.secret_arns
  log_configuration = var.log_configuration
  task_role_arn     = local.task_role_arn
}

resource "aws_iam_role" "task" {
  count              = var.create_task_role ? 1 : 0
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = module.identity.ecs_tasks_trust_policy

  # The Consul aws-iam auth method reads these tags.
  tags = module.identity.role_tags
}

# With ACLs: iam:GetRole on the task's own role, for the Consul login; nothing else.
resource "aws_iam_policy" "task" {
  count       = var.create_task_role && var.acls ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = module.identity.task_policy_description
  policy      = module.identity.task_policy
}

resource "aws_iam_role_policy_attachment" "task" {
  count      = var.create_task_role && var.acls ? 1 : 0
  role       = aws_iam_role.task[0].id
  policy_arn = aws_iam_policy.task[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_task_policies" {
  count      = var.create_task_role ? length(var.additional_task_role_policies) : 0
  role       = aws_iam_role.task[0].id
  policy_arn = var.additional_task_role_policies[count.index]
}

resource "aws_iam_role" "execution" {
  count              = var.create_execution_role ? 1 : 0
  name               = "${var.family}-execution"
  path               = var.iam_role_path
  assume_role_policy = module.identity.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  count       = var.create_execution_role ? 1 : 0
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = module.identity.execution_policy_description
  policy      = module.identity.execution_policy
}

resource "aws_iam_role_policy_attachment" "execution" {
  count      = var.create_execution_role ? 1 : 0
  role       = aws_iam_role.execution[0].id
  policy_arn = aws_iam_policy.execution[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = var.create_execution_role ? length(var.additional_execution_role_policies) : 0
  role       = aws_iam_role.execution[0].id
  policy_arn = var.additional_execution_role_policies[count.index]
}

output "task_role_id" {
  description = "ID (name) of the task role, created or passed."
  value       = local.task_role_id
}

output "task_role_arn" {
  description = "ARN of the task role, created or passed."
  value       = local.task_role_arn
}

output "execution_role_id" {
  description = "ID (name) of the execution role, created or passed."
  value       = local.execution_role_id
}

output "execution_role_arn" {
  description = "ARN of the execution role, created or passed."
  value       = local.execution_role_arn
}
