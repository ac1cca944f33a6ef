# controller-service (internal): a cluster controller as one ECS service, for the v0.6
# acl-controller and the v0.10 controller (their `moved` blocks keep upstream's state
# addresses): the service (one task, no ECS Exec), its task definition with the one
# container, a task role that may list and describe the tasks of its cluster and nothing
# else, and an execution role (at /ecs/) that reads the container's secrets and writes its
# logs.

variable "name" {
  description = "Name of the ECS service and the task role's inline policy."
  type        = string
}

variable "family" {
  description = "Family of the task definition; also the prefix of the role names (<family>-task, <family>-execution)."
  type        = string
}

variable "ecs_cluster_arn" {
  description = "The cluster the service runs in and whose tasks the controller may read."
  type        = string
}

variable "launch_type" {
  description = "Launch type of the service."
  type        = string
}

variable "requires_compatibilities" {
  description = "Launch types of the task definition."
  type        = list(string)
}

variable "subnets" {
  description = "Subnets of the service."
  type        = list(string)
}

variable "security_groups" {
  description = "Security groups of the service."
  type        = list(string)
}

variable "assign_public_ip" {
  description = "Give the task a public IP."
  type        = bool
}

variable "container" {
  description = "The controller's container definition (its secrets are what the execution role may read)."
  type        = any
}

variable "log_configuration" {
  description = "The container's logConfiguration (the awslogs group scopes the log permissions)."
  type        = any
}

variable "execution_policy_description" {
  description = "Description of the execution role's policy."
  type        = string
}

variable "additional_execution_role_policies" {
  description = "Policy ARNs attached to the execution role."
  type        = list(string)
}

resource "aws_ecs_service" "this" {
  name            = var.name
  cluster         = var.ecs_cluster_arn
  task_definition = aws_ecs_task_definition.this.arn
  desired_count   = 1
  launch_type     = var.launch_type
  # No ECS Exec: the task role grants only what the controller needs (upstream also
  # granted the ssmmessages actions, and its read-only root filesystem breaks exec anyway).
  enable_execute_command = false

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = var.assign_public_ip
  }
}

resource "aws_ecs_task_definition" "this" {
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = 256
  memory                   = 512
  task_role_arn            = aws_iam_role.task.arn
  execution_role_arn       = aws_iam_role.execution.arn
  container_definitions    = jsonencode([var.container])
}

module "identity" {
  source = "../task-identity"

  family            = var.family
  task_kind         = "controller"
  secret_arns       = [for s in lookup(var.container, "secrets", []) : s.valueFrom]
  log_configuration = var.log_configuration
}

# The controller lists and describes the tasks of its cluster, nothing else.
resource "aws_iam_role" "task" {
  name               = "${var.family}-task"
  assume_role_policy = module.identity.ecs_tasks_trust_policy
}

resource "aws_iam_role_policy" "task" {
  name = var.name
  role = aws_iam_role.task.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ecs:ListTasks", "ecs:DescribeTasks"]
      Resource = ["*"]
      # Only the tasks of the controller's own cluster.
      Condition = { ArnEquals = { "ecs:cluster" = var.ecs_cluster_arn } }
    }]
  })
}

resource "aws_iam_role" "execution" {
  name               = "${var.family}-execution"
  path               = "/ecs/"
  assume_role_policy = module.identity.ecs_tasks_trust_policy
}

resource "aws_iam_policy" "execution" {
  name        = "${var.family}-execution"
  path        = "/ecs/"
  description = var.execution_policy_description
  policy      = module.identity.execution_policy
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

output "task_definition_arn" {
  description = "ARN of the controller's task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "task_role_arn" {
  description = "ARN of the controller's task role."
  value       = aws_iam_role.task.arn
}
