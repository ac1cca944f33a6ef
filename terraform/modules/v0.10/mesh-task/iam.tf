# The task role (what the containers may do) and the execution role (what ECS may do to
# start them), unless the caller passes its own.

locals {
  task_role_id       = var.create_task_role ? aws_iam_role.task[0].id : var.task_role.id
  task_role_arn      = var.create_task_role ? aws_iam_role.task[0].arn : var.task_role.arn
  execution_role_id  = var.create_execution_role ? aws_iam_role.execution[0].id : var.execution_role.id
  execution_role_arn = var.create_execution_role ? aws_iam_role.execution[0].arn : var.execution_role.arn
}

resource "aws_iam_role" "task" {
  count              = var.create_task_role ? 1 : 0
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = module.dataplane_task.ecs_tasks_trust_policy

  # The Consul aws-iam auth method reads these tags.
  tags = module.dataplane_task.role_tags
}

# With ACLs: iam:GetRole on the task's own role, for the Consul login; nothing else.
resource "aws_iam_policy" "task" {
  count       = var.create_task_role && var.acls ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = module.dataplane_task.task_policy_description
  policy      = module.dataplane_task.task_policy
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
  assume_role_policy = module.dataplane_task.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  count       = var.create_execution_role ? 1 : 0
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = module.dataplane_task.execution_policy_description
  policy      = module.dataplane_task.execution_policy
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
