# The optional network load balancer that gives the gateway an address outside the VPC.

resource "aws_lb" "this" {
  count              = var.lb_enabled ? 1 : 0
  name               = local.service_name
  internal           = false
  load_balancer_type = "network"
  subnets            = var.lb_subnets
}

resource "aws_lb_target_group" "this" {
  count                = var.lb_enabled ? 1 : 0
  name                 = local.service_name
  port                 = local.wan_port
  protocol             = "TCP"
  target_type          = "ip"
  vpc_id               = var.lb_vpc_id
  deregistration_delay = 120

  health_check {
    protocol = "TCP"
  }
}

resource "aws_lb_listener" "this" {
  count             = var.lb_enabled ? 1 : 0
  load_balancer_arn = aws_lb.this[0].arn
  port              = local.wan_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }
}

resource "aws_security_group" "this" {
  count       = var.lb_enabled && var.lb_create_security_group ? 1 : 0
  name        = local.service_name
  description = "Mesh gateway ${local.service_name}: traffic from the load balancer"
  vpc_id      = var.lb_vpc_id
}

# A security group Terraform creates has no egress rule; the gateway must reach the other
# datacenters and the Consul servers.
resource "aws_security_group_rule" "lb_egress_rule" {
  count             = var.lb_enabled && var.lb_create_security_group ? 1 : 0
  type              = "egress"
  description       = "Mesh gateway ${local.service_name}: all egress"
  from_port         = 0
  to_port           = 0
  protocol          = "-1"
  cidr_blocks       = ["0.0.0.0/0"]
  security_group_id = aws_security_group.this[0].id
}

resource "aws_security_group_rule" "lb_ingress_rule" {
  count             = var.lb_enabled && (var.lb_create_security_group || var.lb_modify_security_group) ? 1 : 0
  type              = "ingress"
  description       = "Mesh gateway ${local.service_name}: WAN traffic"
  from_port         = local.wan_port
  to_port           = local.wan_port
  protocol          = "tcp"
  cidr_blocks       = var.lb_ingress_rule_cidr_blocks
  security_group_id = var.lb_create_security_group ? aws_security_group.this[0].id : var.lb_modify_security_group_id
}
