# The v0.10 (Consul Dataplane) layout of the client-server example: "client" calls
# "server" through the upstream on localhost:1234, each task running mesh-init,
# consul-dataplane and health-sync against the Consul servers directly (no client agent),
# with ACLs and TLS, and the controller that sets up the auth method the tasks log in with
# and removes what stopped tasks leave behind. Fargate, so transparent proxy is off. The
# Consul servers are not part of the example: give their address and secrets as variables.

terraform {
  required_version = ">= 1.2"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 3.63.0"
    }
  }
}

provider "aws" {
  region = var.region
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:encrypting the example's logs with a customer-managed KMS key needs a key policy for CloudWatch Logs; out of scope for a small example (AWS-managed encryption still applies).
  name              = var.name
  retention_in_days = 365
}

locals {
  log_configuration = {
    logDriver = "awslogs"
    options = {
      awslogs-group         = aws_cloudwatch_log_group.this.name
      awslogs-region        = var.region
      awslogs-stream-prefix = "mesh"
    }
  }

  # The applications: fake-service on 9090; the client calls the server's upstream.
  apps = {
    client = {
      environment = [{ name = "NAME", value = "client" }, { name = "UPSTREAM_URIS", value = "http://localhost:1234" }]
      upstreams   = [{ destinationName = "${var.name}-server", localBindPort = 1234 }]
    }
    server = {
      environment = [{ name = "NAME", value = "server" }]
      upstreams   = []
    }
  }
}

module "controller" {
  source = "../../modules/v0.10/controller"

  name_prefix                       = var.name
  ecs_cluster_arn                   = aws_ecs_cluster.this.arn
  region                            = var.region
  subnets                           = var.subnets
  security_groups                   = var.security_groups
  consul_server_hosts               = var.consul_server_hosts
  tls                               = true
  consul_ca_cert_arn                = var.consul_ca_cert_secret_arn
  consul_bootstrap_token_secret_arn = var.consul_bootstrap_token_secret_arn
  consul_ecs_image                  = var.consul_ecs_image
  log_configuration                 = local.log_configuration
}

module "app" {
  source   = "../../modules/v0.10/mesh-task"
  for_each = local.apps

  family = "${var.name}-${each.key}"
  port   = 9090
  container_definitions = [{
    name      = each.key
    image     = "ghcr.io/nicholasjackson/fake-service:v0.26.0"
    essential = true
    # app-entrypoint replaces the image's entrypoint, so the command is explicit.
    command      = ["/app/fake-service"]
    portMappings = [{ containerPort = 9090, hostPort = 9090, protocol = "tcp" }]
    environment  = each.value.environment
    # Synced to Consul by health-sync (the container has an essential key and a check).
    healthCheck = {
      command  = ["/consul/consul-ecs", "net-dial", "127.0.0.1:9090"]
      interval = 10
      retries  = 3
      timeout  = 5
    }
    logConfiguration = local.log_configuration
  }]
  upstreams                          = each.value.upstreams
  application_shutdown_delay_seconds = 10

  consul_server_hosts      = var.consul_server_hosts
  enable_transparent_proxy = false
  acls                     = true
  tls                      = true
  consul_ca_cert_arn       = var.consul_ca_cert_secret_arn
  consul_ecs_image         = var.consul_ecs_image
  log_configuration        = local.log_configuration
}

resource "aws_ecs_service" "app" {
  for_each = local.apps

  name            = "${var.name}-${each.key}"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.app[each.key].task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  # The controller finds mesh tasks by the task definition's tags.
  propagate_tags = "TASK_DEFINITION"

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = false
  }
}
