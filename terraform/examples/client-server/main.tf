# Two services in the mesh on one ECS cluster: "client" calls "server" through the upstream
# on localhost:1234, with ACLs, TLS and gossip encryption on, and the ACL controller that
# creates the Consul auth methods the tasks log in with. The Consul servers are not part
# of the example: give their addresses and secrets as variables.

terraform {
  required_version = ">= 1.1"

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

  # What both mesh tasks share.
  mesh = {
    retry_join                = var.consul_retry_join
    consul_http_addr          = var.consul_http_addr
    consul_https_ca_cert_arn  = var.consul_ca_cert_secret_arn
    consul_server_ca_cert_arn = var.consul_ca_cert_secret_arn
    gossip_key_secret_arn     = var.consul_gossip_key_secret_arn
  }
}

module "acl_controller" {
  source = "../../modules/acl-controller"

  name_prefix                       = var.name
  ecs_cluster_arn                   = aws_ecs_cluster.this.arn
  region                            = var.region
  subnets                           = var.subnets
  security_groups                   = var.security_groups
  consul_server_http_addr           = var.consul_http_addr
  consul_bootstrap_token_secret_arn = var.consul_bootstrap_token_secret_arn
  consul_server_ca_cert_arn         = var.consul_ca_cert_secret_arn
  consul_ecs_image                  = var.consul_ecs_image
  log_configuration                 = local.log_configuration
}

module "client" {
  source = "../../modules/mesh-task"

  family = "${var.name}-client"
  port   = 9090
  container_definitions = [{
    name      = "client"
    image     = "ghcr.io/nicholasjackson/fake-service:v0.26.0"
    essential = true
    # app-entrypoint replaces the image's entrypoint, so the command is explicit.
    command      = ["/app/fake-service"]
    portMappings = [{ containerPort = 9090, hostPort = 9090, protocol = "tcp" }]
    environment = [
      { name = "NAME", value = "client" },
      { name = "UPSTREAM_URIS", value = "http://localhost:1234" },
    ]
    healthCheck = {
      command  = ["/consul/consul-ecs", "net-dial", "127.0.0.1:9090"]
      interval = 10
      retries  = 3
      timeout  = 5
    }
    logConfiguration = local.log_configuration
  }]
  upstreams = [{
    destinationName = "${var.name}-server"
    localBindPort   = 1234
  }]
  application_shutdown_delay_seconds = 10

  acls                      = true
  tls                       = true
  retry_join                = local.mesh.retry_join
  consul_http_addr          = local.mesh.consul_http_addr
  consul_https_ca_cert_arn  = local.mesh.consul_https_ca_cert_arn
  consul_server_ca_cert_arn = local.mesh.consul_server_ca_cert_arn
  gossip_key_secret_arn     = local.mesh.gossip_key_secret_arn
  consul_ecs_image          = var.consul_ecs_image
  log_configuration         = local.log_configuration
}

module "server" {
  source = "../../modules/mesh-task"

  family = "${var.name}-server"
  port   = 9090
  container_definitions = [{
    name             = "server"
    image            = "ghcr.io/nicholasjackson/fake-service:v0.26.0"
    essential        = true
    portMappings     = [{ containerPort = 9090, hostPort = 9090, protocol = "tcp" }]
    environment      = [{ name = "NAME", value = "server" }]
    logConfiguration = local.log_configuration
  }]
  # A Consul check instead of a synced ECS health check.
  checks = [{
    checkId  = "server-http"
    name     = "HTTP on 9090"
    http     = "http://localhost:9090/health"
    method   = "GET"
    interval = "10s"
    timeout  = "2s"
  }]

  acls                      = true
  tls                       = true
  retry_join                = local.mesh.retry_join
  consul_http_addr          = local.mesh.consul_http_addr
  consul_https_ca_cert_arn  = local.mesh.consul_https_ca_cert_arn
  consul_server_ca_cert_arn = local.mesh.consul_server_ca_cert_arn
  gossip_key_secret_arn     = local.mesh.gossip_key_secret_arn
  consul_ecs_image          = var.consul_ecs_image
  log_configuration         = local.log_configuration
}

resource "aws_ecs_service" "client" {
  name            = "${var.name}-client"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.client.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  # The acl-controller finds mesh tasks by the task definition's tags.
  propagate_tags = "TASK_DEFINITION"

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = false
  }
}

resource "aws_ecs_service" "server" {
  name            = "${var.name}-server"
  cluster         = aws_ecs_cluster.this.arn
  task_definition = module.server.task_definition_arn
  desired_count   = 1
  launch_type     = "FARGATE"
  propagate_tags  = "TASK_DEFINITION"

  network_configuration {
    subnets          = var.subnets
    security_groups  = var.security_groups
    assign_public_ip = false
  }
}
