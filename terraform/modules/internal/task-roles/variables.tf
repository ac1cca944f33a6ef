# Inputs of the internal task-roles module: the role inputs of the public modules, passed
# through (the public modules declare and validate them), and what the roles' documents
# and tags are made of.

variable "family" {
  description = "Task definition family: the roles are <family>-task and <family>-execution."
  type        = string
}

variable "task_kind" {
  description = "\"task\" or \"gateway\": how the policy descriptions name the task."
  type        = string
}

variable "iam_role_path" {
  description = "IAM path of the roles and policies."
  type        = string
}

variable "create_task_role" {
  description = "Create the task role; false when the caller passes task_role."
  type        = bool
  default     = true
}

variable "task_role" {
  description = "The caller's task role when create_task_role is false."
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
  description = "Create the execution role; false when the caller passes execution_role."
  type        = bool
  default     = true
}

variable "execution_role" {
  description = "The caller's execution role when create_execution_role is false."
  type = object({
    id  = string
    arn = string
  })
  default = {
    id  = null
    arn = null
  }
}

variable "acls" {
  description = "With ACLs the task role may read itself (iam:GetRole) for the Consul login."
  type        = bool
}

variable "additional_task_role_policies" {
  description = "Policy ARNs attached to a created task role."
  type        = list(string)
}

variable "additional_execution_role_policies" {
  description = "Policy ARNs attached to a created execution role."
  type        = list(string)
}

variable "service_name" {
  description = "The Consul service (or gateway) name, a task role tag."
  type        = string
}

variable "consul_namespace" {
  description = "The Consul namespace, a task role tag."
  type        = string
}

variable "role_tags" {
  description = "Task role tags besides service-name and namespace (a gateway's kind)."
  type        = map(string)
  default     = {}
}

variable "secret_arns" {
  description = "Secrets Manager ARNs the task definition injects: what the execution role may read."
  type        = list(string)
}

variable "log_configuration" {
  description = "The containers' ECS logConfiguration (the awslogs group scopes the log permissions)."
  type        = any
}
