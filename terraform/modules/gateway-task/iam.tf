# The gateway's task and execution roles; a gateway always gets its own.

resource "aws_iam_role" "task" {
  name               = "${var.family}-task"
  path               = var.iam_role_path
  assume_role_policy = module.agent_task.ecs_tasks_trust_policy

  tags = module.agent_task.role_tags
}

resource "aws_iam_policy" "task" {
  count       = var.acls ? 1 : 0
  name        = "${var.family}-task"
  path        = var.iam_role_path
  description = module.agent_task.task_policy_description
  policy      = module.agent_task.task_policy
}

resource "aws_iam_role_policy_attachment" "task" {
  count      = var.acls ? 1 : 0
  role       = aws_iam_role.task.id
  policy_arn = aws_iam_policy.task[0].arn
}

resource "aws_iam_role_policy_attachment" "additional_task_policies" {
  count      = length(var.additional_task_role_policies)
  role       = aws_iam_role.task.id
  policy_arn = var.additional_task_role_policies[count.index]
}

resource "aws_iam_role" "execution" {
  name               = "${var.family}-execution"
  path               = var.iam_role_path
  assume_role_policy = module.agent_task.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  name        = "${var.family}-execution"
  path        = var.iam_role_path
  description = module.agent_task.execution_policy_description
  policy      = module.agent_task.execution_policy
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.id
  policy_arn = aws_iam_policy.execution.arn
}

resource "aws_iam_role_policy_attachment" "additional_execution_policies" {
  count      = length(var.additional_execution_role_policies)
  role       = aws_iam_role.execution.id
  policy_arn = var.additional_execution_role_policies[count.index]
}
