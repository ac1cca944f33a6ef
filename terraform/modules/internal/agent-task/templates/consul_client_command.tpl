# The consul-client container: runs under `/bin/sh -ec` in the Consul image (which has
# curl and jq), as root.

# mesh-init runs `consul connect envoy` and finds the binary in the shared volume.
cp /bin/consul /bin/consul-inject/consul

# This task's address, region, ID and cluster, from the ECS task metadata endpoint. Each
# request is its own assignment, so that under `sh -e` a failed one stops the script.
CONTAINER_METADATA="$(curl -fsS "$ECS_CONTAINER_METADATA_URI_V4")"
TASK_METADATA="$(curl -fsS "$ECS_CONTAINER_METADATA_URI_V4/task")"
ECS_IPV4="$(echo "$CONTAINER_METADATA" | jq -r '.Networks[0].IPv4Addresses[0]')"
TASK_ARN="$(echo "$TASK_METADATA" | jq -r '.TaskARN')"
TASK_REGION="$(echo "$TASK_ARN" | cut -d: -f4)"
TASK_ID="$(echo "$TASK_ARN" | cut -d/ -f3)"
CLUSTER_ARN="$(echo "$TASK_ARN" | sed -E 's|:task/([^/]+)/[^/]+$|:cluster/\1|')"
export ECS_IPV4 TASK_REGION TASK_ID CLUSTER_ARN

%{ if tls ~}
echo "$CONSUL_CACERT_PEM" > /consul/consul-ca-cert.pem
%{ endif ~}
%{ if https ~}
echo "$CONSUL_HTTPS_CACERT_PEM" > /consul/consul-https-ca-cert.pem
%{ endif ~}
%{ if acls ~}

client_login() {
  consul login \
    -http-addr "${consul_http_addr}" \
%{ if https ~}
    -ca-file /consul/consul-https-ca-cert.pem \
%{ endif ~}
%{ if consul_partition != "" ~}
    -partition "${consul_partition}" \
%{ endif ~}
    -type aws-iam \
    -method "${client_token_auth_method_name}" \
    -aws-region "$TASK_REGION" \
    -aws-auto-bearer-token \
    -aws-include-entity \
    -meta "consul.hashicorp.com/task-id=$TASK_ID" \
    -meta "consul.hashicorp.com/cluster=$CLUSTER_ARN" \
    -token-sink-file /consul/client-token
}

client_token_is_readable() {
  consul acl token read \
    -http-addr "${consul_http_addr}" \
%{ if https ~}
    -ca-file /consul/consul-https-ca-cert.pem \
%{ endif ~}
    -self -stale -token-file /consul/client-token >/dev/null 2>&1
}

until client_login; do
  echo "consul-client: login to ${client_token_auth_method_name} failed; trying again in 2s"
  sleep 2
done

# health-sync runs as the consul-ecs uid (see the module README): the token is that uid's
# alone (upstream made it world-readable for a non-root health-sync).
chmod 0600 /consul/client-token
chown ${consul_ecs_user} /consul/client-token

# A fresh token may not have reached every server yet; give replication up to 2 seconds
# so the agent does not cache an "ACL not found".
tries=20
until client_token_is_readable; do
  tries=$((tries - 1))
  if [ "$tries" -le 0 ]; then
    echo "consul-client: the servers do not know the new client token; is the server cluster healthy?"
    exit 1
  fi
  sleep 0.1
done

AGENT_TOKEN="$(cat /consul/client-token)"
export AGENT_TOKEN
%{ endif ~}

cat > /consul/agent-defaults.hcl <<CONSUL_AGENT_DEFAULTS
${consul_agent_defaults_hcl}
CONSUL_AGENT_DEFAULTS
%{ if consul_agent_configuration_hcl != "" ~}

cat > /consul/agent-extra.hcl <<CONSUL_AGENT_EXTRA
${consul_agent_configuration_hcl}
CONSUL_AGENT_EXTRA
%{ endif ~}

# Files given later override earlier ones: the caller's extra configuration wins.
exec consul agent \
  -data-dir /consul/data \
%{ if consul_agent_configuration_hcl != "" ~}
  -config-file /consul/agent-defaults.hcl \
  -config-file /consul/agent-extra.hcl
%{ else ~}
  -config-file /consul/agent-defaults.hcl
%{ endif ~}
