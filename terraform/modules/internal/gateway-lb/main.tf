# gateway-lb (internal): the optional network load balancer that gives a gateway an address
# outside the VPC, and the security group rules for the traffic it brings; for gateway-task
# of both layouts, whose `moved` blocks keep upstream's state addresses.

variable "enabled" {
  description = "Create the load balancer (the gateway's lb_enabled)."
  type        = bool
}

variable "name" {
  description = "Name of the load balancer, target group and security group: the gateway's service name."
  type        = string
}

variable "wan_port" {
  description = "The port the load balancer listens on and forwards to."
  type        = number
}

variable "vpc_id" {
  description = "VPC of the target group and security group."
  type        = string
}

variable "subnets" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "ingress_rule_cidr_blocks" {
  description = "CIDR blocks the ingress rule allows."
  type        = list(string)
}

variable "create_security_group" {
  description = "Create a security group for the traffic from the load balancer."
  type        = bool
}

variable "modify_security_group" {
  description = "Add the ingress rule to an existing security group instead."
  type        = bool
}

variable "modify_security_group_id" {
  description = "The existing security group to add the ingress rule to."
  type        = string
}

resource "aws_lb" "this" {
  count              = var.enabled ? 1 : 0
  name               = var.name
  internal           = false
  load_balancer_type = "network"
  subnets            = var.subnets
}

resource "aws_lb_target_group" "this" {
  count                = var.enabled ? 1 : 0
  name                 = var.name
  port                 = var.wan_port
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = 120

  health_check {
    protocol = "TCP"
  }
}

resource "aws_lb_listener" "this" {
  count             = var.enabled ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = var.wan_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }
}

resource "aws_security_group" "this" {
  count       = var.enabled && var.create_security_group ? 1 : 0
  name        = var.name
  description = "Mesh gateway ${var.name}: traffic from the load balancer"
  vpc_id      = var.vpc_id
}

# A security group Terraform creates has no egress rule; the gateway must reach the other
# datacenters and the Consul servers.
resource "aws_security_group_rule" "lb_egress_rule" {
  #checkov:skip=CKV_AWS_382:a mesh gateway must reach the gateways of other datacenters and the Consul servers on their ports (upstream's rule); the group holds only the gateway's tasks
  count             = var.enabled && var.create_security_group ? 1 : 0
  type              = "egress"
  description       = "Mesh gateway ${var.name}: all egress"
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.this[0].id
}

resource "aws_security_group_rule" "lb_ingress_rule" {
  count             = var.enabled && (var.create_security_group || var.modify_security_group) ? 1 : 0
  type              = "ingress"
  description       = "Mesh gateway ${var.name}: WAN traffic"
  from_port         = var.wan_port
  to_port           = var.wan_port
  protocol          = "tcp"
  cidr_blocks       = var.ingress_rule_cidr_blocks
  security_group_id = var.create_security_group ? aws_security_group.this[0].id : var.modify_security_group_id
}

output "dns_name" {
  description = "DNS name of the load balancer, or null."
  value       = var.enabled ? aws_lb.this[0].dns_name : null
}

output "target_group_arn" {
  description = "ARN of the target group, or null."
  value       = var.enabled ? aws_lb_target_group.this[0].arn : null
}

output "security_group_id" {
  description = "The security group created for the load balancer traffic, or null."
  value       = var.enabled && var.create_security_group ? aws_security_group.this[0].id : null
}
