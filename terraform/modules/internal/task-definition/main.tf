# task-definition (internal): the ECS task definition of a consul-ecs task, for mesh-task and
# gateway-task of both layouts (their `moved` blocks keep upstream's state addresses): the
# module's own volumes, the caller's volumes (host path, Docker, EFS, FSx for Windows), the
# tags and the containers.

variable "family" {
  description = "Task definition family."
  type        = string
}

variable "requires_compatibilities" {
  description = "Launch types."
  type        = list(string)
}

variable "cpu" {
  description = "Task CPU units."
  type        = number
}

variable "memory" {
  description = "Task memory (MiB)."
  type        = number
}

variable "task_role_arn" {
  description = "ARN of the task role."
  type        = string
}

variable "execution_role_arn" {
  description = "ARN of the execution role."
  type        = string
}

variable "module_volumes" {
  description = "Names of the empty task volumes the module's containers share (consul_data, …), in order."
  type        = list(string)
}

variable "volumes" {
  description = "The caller's volumes, as the public modules' volumes input."
  type        = any
}

variable "tags" {
  description = "Tags of the task definition."
  type        = map(string)
}

variable "container_definitions" {
  description = "The containers, as a list (encoded here)."
  type        = any
}

resource "aws_ecs_task_definition" "this" {
  #checkov:skip=CKV_AWS_97:EFS volumes come only from var.volumes, whose transit_encryption is passed through as the caller sets it (as upstream); the module adds none
  family                   = var.family
  requires_compatibilities = var.requires_compatibilities
  network_mode             = "awsvpc"
  cpu                      = var.cpu
  memory                   = var.memory
  execution_role_arn       = var.execution_role_arn
  task_role_arn            = var.task_role_arn

  dynamic "volume" {
    for_each = var.module_volumes
    content {
      name = volume.value
    }
  }

  dynamic "volume" {
    for_each = var.volumes
    content {
      name      = volume.value["name"]
      host_path = lookup(volume.value, "host_path", null)

      dynamic "docker_volume_configuration" {
        for_each = contains(keys(volume.value), "docker_volume_configuration") ? [volume.value["docker_volume_configuration"]] : []
        content {
          autoprovision = lookup(docker_volume_configuration.value, "autoprovision", null)
          driver        = lookup(docker_volume_configuration.value, "driver", null)
          driver_opts   = lookup(docker_volume_configuration.value, "driver_opts", null)
          labels        = lookup(docker_volume_configuration.value, "labels", null)
          scope         = lookup(docker_volume_configuration.value, "scope", null)
        }
      }

      dynamic "efs_volume_configuration" {
        for_each = contains(keys(volume.value), "efs_volume_configuration") ? [volume.value["efs_volume_configuration"]] : []
        content {
          file_system_id          = efs_volume_configuration.value["file_system_id"]
          root_directory          = lookup(efs_volume_configuration.value, "root_directory", null)
          transit_encryption      = lookup(efs_volume_configuration.value, "transit_encryption", null)
          transit_encryption_port = lookup(efs_volume_configuration.value, "transit_encryption_port", null)

          dynamic "authorization_config" {
            for_each = contains(keys(efs_volume_configuration.value), "authorization_config") ? [efs_volume_configuration.value["authorization_config"]] : []
            content {
              access_point_id = lookup(authorization_config.value, "access_point_id", null)
              iam             = lookup(authorization_config.value, "iam", null)
            }
          }
        }
      }

      dynamic "fsx_windows_file_server_volume_configuration" {
        for_each = contains(keys(volume.value), "fsx_windows_file_server_volume_configuration") ? [volume.value["fsx_windows_file_server_volume_configuration"]] : []
        content {
          file_system_id = fsx_windows_file_server_volume_configuration.value["file_system_id"]
          root_directory = fsx_windows_file_server_volume_configuration.value["root_directory"]

          dynamic "authorization_config" {
            for_each = contains(keys(fsx_windows_file_server_volume_configuration.value), "authorization_config") ? [fsx_windows_file_server_volume_configuration.value["authorization_config"]] : []
            content {
              credentials_parameter = authorization_config.value["credentials_parameter"]
              domain                = authorization_config.value["domain"]
            }
          }
        }
      }
    }
  }

  tags = var.tags

  container_definitions = jsonencode(var.container_definitions)
}

output "arn" {
  description = "ARN of the task definition."
  value       = aws_ecs_task_definition.this.arn
}

output "tags_all" {
  description = "Every tag of the task definition, the provider's default tags included."
  value       = aws_ecs_task_definition.this.tags_all
}
