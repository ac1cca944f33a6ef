# The optional network load balancer: ../internal/gateway-lb.

module "lb" {
  source = "../../internal/gateway-lb"

  enabled                  = var.lb_enabled
  name                     = local.service_name
  wan_port                 = local.wan_port
  vpc_id                   = var.lb_vpc_id
  subnets                  = var.lb_subnets
  ingress_rule_cidr_blocks = var.lb_ingress_rule_cidr_blocks
  create_security_group    = var.lb_create_security_group
  modify_security_group    = var.lb_modify_security_group
  modify_security_group_id = var.lb_modify_security_group_id
}

# These were resources of this module (and of upstream's); state follows them here.
moved {
  from = aws_lb.this
  to   = module.lb.aws_lb.this
}

moved {
  from = aws_lb_target_group.this
  to   = module.lb.aws_lb_target_group.this
}

moved {
  from = aws_lb_listener.this
  to   = module.lb.aws_lb_listener.this
}

moved {
  from = aws_security_group.this
  to   = module.lb.aws_security_group.this
}

moved {
  from = aws_security_group_rule.lb_egress_rule
  to   = module.lb.aws_security_group_rule.lb_egress_rule
}

moved {
  from = aws_security_group_rule.lb_ingress_rule
  to   = module.lb.aws_security_group_rule.lb_ingress_rule
}
