# Written by the consul-client container. $NAME values are filled in by the shell.
datacenter                  = "$CONSUL_DATACENTER"
advertise_addr              = "$ECS_IPV4"
advertise_reconnect_timeout = "15m"
client_addr                 = "0.0.0.0"
leave_on_terminate          = true

addresses {
  dns  = "127.0.0.1"
  grpc = "127.0.0.1"
  http = "127.0.0.1"
}

ports {
  grpc = 8502
}

retry_join = [
%{ for address in retry_join ~}
  "${address}",
%{ endfor ~}
]
%{ if gossip_encryption_enabled ~}

encrypt = "$CONSUL_GOSSIP_ENCRYPTION_KEY"
%{ endif ~}
%{ if tls ~}

auto_encrypt {
  tls    = true
  ip_san = ["$ECS_IPV4"]
}
ca_file         = "/consul/consul-ca-cert.pem"
verify_outgoing = true
%{ endif ~}
%{ if acls ~}

acl {
  enabled                  = true
  default_policy           = "deny"
  down_policy              = "async-cache"
%{ if enable_token_replication ~}
  enable_token_replication = true
%{ endif ~}
  tokens {
    agent = "$AGENT_TOKEN"
  }
}
%{ endif ~}
%{ if partition != "" ~}

partition = "${partition}"
%{ endif ~}
%{ if primary_datacenter != "" ~}

primary_datacenter = "${primary_datacenter}"
%{ endif ~}
%{ if audit_logging ~}

audit {
  enabled = true
  sink "stdout" {
    type   = "file"
    format = "json"
    path   = "/dev/stdout"
    delete_after     = "24h"
    rotate_duration  = "24h"
    rotate_max_files = 1
    rotate_bytes     = 25165824
  }
}
%{ endif ~}
