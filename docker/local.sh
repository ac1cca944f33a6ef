#!/usr/bin/env bash
# One ECS mesh task on this machine, by hand: the engine, then the compose files up and down.
# `make compose-up [ACLS=1] [ENGINE=docker|podman]` and `make compose-down` call this; see
# docker/README.md. Nothing leaves the machine: no image is pulled (`make compose-images`
# builds stand-ins), ports are published on 127.0.0.1 only.
#
#   local.sh engine-start   docker: a dockerd of its own in a temporary directory (own socket,
#                           data and exec roots; no iptables rules, no IP forwarding);
#                           podman: `podman system service` (the ECS agent reads that API)
#   local.sh engine-stop    stops it and removes the directory
#   local.sh env            the variables a shell needs to talk to that engine (eval "$(…)")
#   local.sh up [--acls]    the task (and with --acls docker-compose.acls.yml) up, detached;
#                           with LAYOUT=dataplane the v0.10 (Consul Dataplane) layout of
#                           docker-compose.dataplane.yml instead (ACLs always on there)
#   local.sh down           the task's services stopped first, in dependency order (so
#                           health-sync's shutdown reaches Consul), then everything removed
#
# Docker: Debian's docker.io (20.10) and docker-compose (1.29), or compose v2. podman: 4.3
# with podman-compose 1.6 (docker/test/.venv), which cannot follow depends_on there: this
# script creates the containers, starts them in the order and under the conditions the files
# declare, and runs the health checks once a second (podman runs them from systemd timers;
# without systemd nobody would).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
ENGINE=${ENGINE:-docker}
PROJECT=${COMPOSE_PROJECT:-consul-ecs}
# Where the engine of this script lives while it runs (the socket path must stay short).
STATE=${CONSUL_ECS_ENGINE_DIR:-/tmp/consul-ecs-$ENGINE-$(id -u)}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/test/containers.conf}
STAND_INS=${STAND_INS:-1}
# agent: docker-compose.yml (v0.6 layout); dataplane: docker-compose.dataplane.yml (v0.10).
LAYOUT=${LAYOUT:-agent}
# The stand-in Consul serves no xDS: Envoy's public listener never opens, check its admin port.
[ "$STAND_INS" = 1 ] && export SIDECAR_CHECK_PORT=${SIDECAR_CHECK_PORT:-19000}

die() { echo "local.sh: $*" >&2; exit 1; }
say() { echo "local.sh: $*" >&2; }

# Debian's docker CLI beside its dockerd (another docker on PATH may be a newer client that
# wants BuildKit, which this daemon lacks).
docker_cli() {
    local d
    d=$(command -v dockerd) || die "dockerd is missing (make container-tools installs docker.io)"
    if [ -x "$(dirname "$d")/../bin/docker" ]; then echo "$(dirname "$d")/../bin/docker"; else command -v docker; fi
}

socket() { echo "$STATE/$ENGINE.sock"; }

engine_env() {
    case $ENGINE in
        docker) echo "export DOCKER_HOST=unix://$(socket)"
                echo "export DOCKER_SOCKET=$(socket)"
                # Envoy's nofile (1048576, as the terraform module sets it) within this
                # machine's hard limit: runc cannot raise it (error setting rlimit type 7).
                local hard; hard=$(ulimit -Hn)
                if [ "$hard" != unlimited ] && [ "$hard" -lt 1048576 ]; then
                    echo "export ENVOY_NOFILE=\${ENVOY_NOFILE:-$hard}"
                fi ;;
        podman) echo "export CONTAINERS_CONF=$CONTAINERS_CONF"
                echo "export DOCKER_SOCKET=$(socket)"
                # This machine's hard limits (docker/test/containers.conf).
                echo "export ENVOY_NOFILE=\${ENVOY_NOFILE:-1024} ENVOY_NPROC=\${ENVOY_NPROC:-1000}" ;;
        *) die "ENGINE=$ENGINE: docker or podman" ;;
    esac
}

engine_start() {
    if [ -S "$(socket)" ] && engine_answers; then
        say "$ENGINE already serves $(socket)"
        return
    fi
    rm -rf "$STATE" && mkdir -p -m 0700 "$STATE"
    case $ENGINE in
        docker)
            ip link show docker0 >/dev/null 2>&1 || touch "$STATE/made-docker0"
            # setsid: the daemon outlives this script (make compose-down stops it).
            setsid dockerd --iptables=false --ip-masq=false --ip-forward=false \
                --host "unix://$(socket)" --data-root "$STATE/data" --exec-root "$STATE/exec" \
                --pidfile "$STATE/docker.pid" >"$STATE/dockerd.log" 2>&1 </dev/null &
            ;;
        podman)
            setsid podman system service --time=0 "unix://$(socket)" \
                >"$STATE/podman-service.log" 2>&1 </dev/null &
            echo $! >"$STATE/podman.pid"
            ;;
        *) die "ENGINE=$ENGINE: docker or podman" ;;
    esac
    local i
    for i in $(seq 1 300); do
        engine_answers && { say "$ENGINE serves $(socket) (state in $STATE)"; return; }
        sleep 0.2
    done
    tail -n 30 "$STATE"/*.log >&2 || true
    die "$ENGINE did not answer on $(socket) within 60s"
}

engine_answers() {
    case $ENGINE in
        docker) "$(docker_cli)" -H "unix://$(socket)" version >/dev/null 2>&1 ;;
        podman) [ -S "$(socket)" ] ;;
    esac
}

engine_stop() {
    [ -d "$STATE" ] || { say "no $ENGINE of ours is running ($STATE is absent)"; return; }
    local pidfile pid i
    case $ENGINE in docker) pidfile=$STATE/docker.pid ;; *) pidfile=$STATE/podman.pid ;; esac
    if [ -f "$pidfile" ] && pid=$(cat "$pidfile") && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for i in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -0 "$pid" 2>/dev/null && { say "$ENGINE ($pid) ignored SIGTERM for 30s: SIGKILL"; kill -KILL "$pid"; }
    fi
    if [ -f "$STATE/health-driver.pid" ]; then kill "$(cat "$STATE/health-driver.pid")" 2>/dev/null || true; fi
    if [ -f "$STATE/made-docker0" ]; then ip link delete docker0 2>/dev/null || true; fi
    # dockerd leaves its mounts when killed; never remove through one.
    { grep -o " $STATE/[^ ]*" /proc/self/mounts || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
    rm -rf "$STATE"
    say "$ENGINE stopped, $STATE removed"
}

# The compose files: with STAND_INS=1 (the default here) the images `make compose-images`
# builds from this machine's files replace those a registry would give.
files() {
    if [ "$LAYOUT" = dataplane ]; then
        local f=(-f "$here/docker-compose.dataplane.yml")
        [ "$STAND_INS" = 1 ] && f+=(-f "$here/test/docker-compose.dataplane.override.yml")
        echo "${f[@]}"
        return
    fi
    [ "$LAYOUT" = agent ] || die "LAYOUT=$LAYOUT: agent or dataplane"
    local f=(-f "$here/docker-compose.yml")
    [ "$STAND_INS" = 1 ] && f+=(-f "$here/test/docker-compose.override.yml")
    if [ "${ACLS:-0}" = 1 ]; then
        f+=(-f "$here/docker-compose.acls.yml")
        [ "$STAND_INS" = 1 ] && f+=(-f "$here/test/docker-compose.acls.override.yml")
    fi
    echo "${f[@]}"
}

compose() {
    eval "$(engine_env)"
    # shellcheck disable=SC2046
    case $ENGINE in
        docker) "${DOCKER_COMPOSE:-docker-compose}" -p "$PROJECT" $(files) "$@" ;;
        podman) "${PODMAN_COMPOSE:-$here/test/.venv/bin/podman-compose}" --project-name "$PROJECT" $(files) "$@" ;;
    esac
}

# The services in dependency order with what each waits for, one "service dep:condition…"
# line each (depends_on in list or map form, and network_mode service:X as X started).
ordered() {
    compose config | python3 -c '
import sys, yaml
services = yaml.safe_load(sys.stdin)["services"]
deps = {}
for name, svc in services.items():
    d = svc.get("depends_on") or {}
    if isinstance(d, list):
        d = {x: {"condition": "service_started"} for x in d}
    d = {k: (v or {}).get("condition", "service_started") for k, v in d.items()}
    owner = (svc.get("network_mode") or "")
    if owner.startswith("service:"):
        d.setdefault(owner[len("service:"):], "service_started")
    deps[name] = d
order = []
while len(order) < len(deps):
    ready = [n for n in sorted(deps) if n not in order and all(x in order for x in deps[n])]
    if not ready:
        sys.exit("a dependency cycle among " + ", ".join(sorted(set(deps) - set(order))))
    order += ready
for n in order:
    print(n, *[f"{k}:{v}" for k, v in deps[n].items()])
'
}

container_of() {
    podman ps -a --filter "label=com.docker.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | head -n 1
}

# "status exit-code health" of a container (health empty without a check).
container_state() {
    podman inspect "$1" | python3 -c '
import json, sys
s = json.load(sys.stdin)[0]["State"]
print(s["Status"], s["ExitCode"], (s.get("Health") or s.get("Healthcheck") or {}).get("Status", ""))'
}

wait_condition() {
    local service=$1 condition=$2 c i status
    c=$(container_of "$service")
    for i in $(seq 1 240); do
        status=$(container_state "$c")
        case "$condition:$status" in
            service_started:running*|service_started:exited*) return ;;
            service_healthy:running*healthy) [[ $status == *unhealthy ]] || return 0 ;;
            service_healthy:exited*) die "$service exited ($status) instead of becoming healthy" ;;
            service_completed_successfully:"exited 0"*) return ;;
            service_completed_successfully:exited*) die "$service failed ($status): its dependents stay stopped" ;;
        esac
        sleep 0.5
    done
    die "$service: not $condition after 120s ($status)"
}

# podman: run each container's health check once a second while the project's containers
# exist (down removes them).
health_driver() {
    local names=("$@")
    while podman ps -a -q --filter "label=com.docker.compose.project=$PROJECT" | grep -q .; do
        for n in "${names[@]}"; do podman healthcheck run "$n" >/dev/null 2>&1 || true; done
        sleep 1
    done
}

up() {
    [ "${1:-}" = --acls ] && export ACLS=1
    engine_answers || die "$ENGINE is not running here: make compose-up starts it (or local.sh engine-start)"
    eval "$(engine_env)"
    case $ENGINE in
        docker) compose up -d ;;
        podman)
            compose up --no-start --no-deps >/dev/null
            local checked=() line service dep
            while read -r -u 3 service _; do
                [ "$(podman inspect "$(container_of "$service")" --format '{{if .Config.Healthcheck}}yes{{end}}' </dev/null)" = yes ] &&
                    checked+=("$(container_of "$service")")
            done 3< <(ordered)
            setsid bash -c "$(declare -f health_driver); PROJECT=$PROJECT; export CONTAINERS_CONF=$CONTAINERS_CONF; health_driver ${checked[*]}" \
                >/dev/null 2>&1 </dev/null &
            echo $! >"$STATE/health-driver.pid"
            # fd 3: podman reads stdin, which must not eat the list.
            while read -r -u 3 line; do
                read -r service rest <<<"$line"
                for dep in $rest; do wait_condition "${dep%%:*}" "${dep#*:}"; done
                say "start $service"
                podman start "$(container_of "$service")" >/dev/null </dev/null
            done 3< <(ordered)
            ;;
    esac
    say "up: Consul at http://127.0.0.1:${CONSUL_HTTP_PORT:-8500}; stop with make compose-down"
}

down() {
    eval "$(engine_env)"
    # Dependents first: the app, then the sidecar and health-sync, then Consul and the rest.
    # compose (Docker) does this itself on `stop`; podman-compose stops everything at once.
    case $ENGINE in
        docker) compose stop ;;
        podman)
            local service
            for service in $(ordered | awk '{print $1}' | tac); do
                local c; c=$(container_of "$service")
                [ -n "$c" ] && podman stop "$c" >/dev/null
            done
            [ -f "$STATE/health-driver.pid" ] && kill "$(cat "$STATE/health-driver.pid")" 2>/dev/null || true
            ;;
    esac
    compose down -v
}

case ${1:-} in
    engine-start) engine_start ;;
    engine-stop) engine_stop ;;
    env) engine_env ;;
    up) shift; up "$@" ;;
    down) down ;;
    *) die "usage: local.sh engine-start|engine-stop|env|up [--acls]|down (ENGINE=docker|podman)" ;;
esac
