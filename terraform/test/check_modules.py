#!/usr/bin/env python3
"""What `make terraform-check` checks of terraform/ without a Terraform binary.

1. Every .tf file (and the example's tfvars) parses with HashiCorp's HCL parser (hcl2json).
2. Each module's variables (names, types, defaults, validation messages) and outputs match
   the transcription of upstream v0.6.2 in upstream-v0.6.2.json.
3. The example is evaluated (hcleval.py) down into the modules it calls; the task
   definitions, containers, dependsOn, mounts, health checks, tags and IAM policies it
   produces are compared with the upstream facts, allowing exactly the differences the
   README documents.
4. The CONSUL_ECS_CONFIG_JSON each evaluated task carries passes
   `consul-ecs validate-config`.
5. Every plan-time rule (variable validations, file("ERROR: ...") checks) fires with
   upstream's message on inputs that break it, and stays quiet otherwise.
6. The rendered consul-client script passes `sh -n`; the agent configuration it writes
   parses as HCL.

Usage: check_modules.py [--binary target/debug/consul-ecs] [--node node]
Prints one line per check and a closing "N passed, M failed" line; exits 1 on a failure.
"""

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
TERRAFORM = os.path.dirname(HERE)
REPO = os.path.dirname(TERRAFORM)
sys.path.insert(0, HERE)

import hcleval as h  # noqa: E402

MODULES = os.path.join(TERRAFORM, "modules")
EXAMPLE = os.path.join(TERRAFORM, "examples", "client-server")
EXAMPLE_V010 = os.path.join(TERRAFORM, "examples", "dataplane-client-server")
UPSTREAM = json.load(open(os.path.join(HERE, "upstream-v0.6.2.json"), encoding="utf-8"))
UPSTREAM_V010 = json.load(open(os.path.join(HERE, "upstream-v0.10.0.json"), encoding="utf-8"))
V010 = os.path.join(MODULES, "v0.10")
# consul-ecs v0.10.0's config schema (upstream's config/schema.json, MPL-2.0, unchanged).
V010_SCHEMA = os.path.join(HERE, "consul-ecs-v0.10-schema.json")
DATA_STUBS = {"aws_region": {"name": "us-east-1"}, "aws_partition": {"partition": "aws"}}

# Our image; the only default that differs from upstream on purpose (README "Image").
OUR_IMAGE = "ghcr.io/consul-ecs-rs/consul-ecs:0.1.0"
# The uid of every container that touches the 0600 files in /consul (README "File ownership").
SHARED_UID = "5996:5996"
# consul-client stays root (the Consul image), as upstream; it chowns the client token.
CLIENT_UID = "0"
APP_INIT = "consul-ecs-app-entrypoint-init"
APP_VOLUME = "consul_ecs_app_entrypoint"
# Inputs that are ours, not upstream's (README "Deliberate differences"), by module.
OUR_VARIABLES = {"mesh-task": {"sidecar_proxy_essential": {"type": "bool", "default": True}},
                 "v0.10/mesh-task": {"consul_dataplane_essential": {"type": "bool", "default": True}}}
# health-sync also waits for consul-client to start, so that ECS stops it first (README
# "Ordered shutdown"); upstream's health-sync depended on mesh-init only.
HEALTH_SYNC_AFTER_CLIENT = {"containerName": "consul-client", "condition": "START"}


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def expect_eq(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {json.dumps(got, sort_keys=True)}, want {json.dumps(want, sort_keys=True)}")


# --------------------------------------------------------------------------- parsing


class Parsed:
    """hcl2json output of every file, by absolute path."""

    def __init__(self, node):
        self.node = node
        self.docs = {}

    def run(self, files):
        proc = subprocess.run([self.node, os.path.join(HERE, "hcl2json.js"), *files],
                              cwd=HERE, capture_output=True, text=True)
        if proc.returncode != 0:
            raise Failure(proc.stderr.strip() or f"hcl2json exited {proc.returncode}")
        return json.loads(proc.stdout)

    def module_files(self, directory):
        directory = os.path.abspath(directory)
        return {os.path.basename(p): d for p, d in self.docs.items()
                if os.path.dirname(p) == directory and p.endswith(".tf")}


def tf_files():
    out = []
    for root, dirs, files in os.walk(TERRAFORM):
        dirs[:] = [d for d in dirs if d not in ("test", ".terraform")]
        out += [os.path.join(root, f) for f in files if f.endswith(".tf")]
    return sorted(out)


def load_module(parsed, directory, inputs, where=None):
    return h.Module(directory, parsed.module_files(directory), inputs, DATA_STUBS,
                    where=where or os.path.relpath(directory, TERRAFORM), parse=parsed.module_files)


# --------------------------------------------------------------------------- helpers


def canonical_type(text, where):
    """'${object({\n id = string\n arn = string\n})}' -> 'object({arn=string,id=string})'."""
    node = h.parse_template(text, where).parts
    expect(len(node) == 1 and node[0][0] == "interp", f"{where}: type is not an expression")

    def show(n):
        if isinstance(n, h.Var):
            return n.name
        if isinstance(n, h.Call):
            return f"{n.name}({','.join(show(a) for a in n.args)})"
        if isinstance(n, h.Object):
            items = sorted((show(k) if not isinstance(k, h.Lit) else k.value, show(v)) for k, v in n.items)
            return "{" + ",".join(f"{k}={v}" for k, v in items) + "}"
        if isinstance(n, h.Tuple):
            return "[" + ",".join(show(i) for i in n.items) + "]"
        raise Failure(f"{where}: unexpected type syntax {type(n).__name__}")

    return show(node[0][1])


def containers_of(module):
    td = resource_of(module, "aws_ecs_task_definition", "this")
    return json.loads(td.attr("container_definitions"))


def stop_order(containers):
    """The order in which ECS stops a task's containers: a container is stopped only once
    every container that depends on it has stopped (the reverse of dependsOn), and the
    containers whose turn comes together are stopped together. Returns a list of sets."""
    deps = {c["name"]: {d["containerName"] for d in c.get("dependsOn") or []} for c in containers}
    for name, ds in deps.items():
        expect(ds <= set(deps), f"{name} depends on containers the task does not have: {sorted(ds - set(deps))}")
    waves, left = [], set(deps)
    while left:
        # Stoppable now: nothing still running depends on it.
        wave = {n for n in left if not any(n in deps[m] for m in left)}
        expect(wave, f"a dependsOn cycle among {sorted(left)}")
        waves.append(wave)
        left -= wave
    return waves


def expect_stopped_before(containers, first, then, label):
    waves = stop_order(containers)
    at = {n: i for i, w in enumerate(waves) for n in w}
    expect(at[first] < at[then], f"{label}: ECS stops {first} in wave {at[first]} and {then} in wave {at[then]} "
                                 f"({[sorted(w) for w in waves]}); {first} must be stopped first")


def by_name(containers):
    names = [c["name"] for c in containers]
    expect(len(names) == len(set(names)), f"duplicate container names: {names}")
    return {c["name"]: c for c in containers}


def mounts(c):
    return [[m["sourceVolume"], m["containerPath"], m.get("readOnly", False)] for m in c.get("mountPoints") or []]


def env_names(c):
    return [e["name"] for e in c.get("environment") or []]


def secret_names(c):
    return [s["name"] for s in c.get("secrets") or []]


def task_volumes(module):
    td = resource_of(module, "aws_ecs_task_definition", "this")
    body = td.body
    s = td.module.scope.child({})
    names = [h.evaluate_json(b["name"], s) for b in body.get("volume", [])]
    for dyn in body.get("dynamic", {}).get("volume", []):
        for item in h.evaluate_json(dyn["for_each"], s):
            inner = s.child({"volume": {"key": item, "value": item}})
            names.append(h.evaluate_json(dyn["content"][0]["name"], inner))
    return names


def config_of(container):
    env = {e["name"]: e["value"] for e in container.get("environment") or []}
    return env["CONSUL_ECS_CONFIG_JSON"]


def modules_within(module):
    """The module and every module it calls, depth first (the roles live in
    modules/internal/task-roles, called by the public modules)."""
    yield module
    for name in sorted(module.modules):
        call = module.module_call(name)
        for instance in (call.values() if isinstance(call, dict) else [call]):
            yield from modules_within(instance.module)


def resource_of(module, rtype, name):
    """A resource of the module or of a module it calls (there must be exactly one)."""
    holders = [m for m in modules_within(module) if (rtype, name) in m.resources]
    expect(len(holders) == 1, f"{module.where}: {len(holders)} modules hold {rtype}.{name}")
    return holders[0].resource(rtype, name)


def policy_statements(module, rtype, name):
    res = resource_of(module, rtype, name)
    items = res if isinstance(res, list) else [res]
    out = []
    for r in items:
        doc = json.loads(r.attr("policy"))
        out += doc["Statement"]
    return out


def all_policy_actions(module):
    actions = set()
    for (rtype, name) in {r for m in modules_within(module) for r in m.resources}:
        if rtype in ("aws_iam_policy", "aws_iam_role_policy"):
            for st in policy_statements(module, rtype, name):
                acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                actions |= set(acts)
    return actions


def check_trust(module, role):
    r = resource_of(module, "aws_iam_role", role)
    r = r[0] if isinstance(r, list) else r
    doc = json.loads(r.attr("assume_role_policy"))
    st = doc["Statement"]
    expect_eq(st, [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
              f"{module.where}: trust policy of aws_iam_role.{role}")


# --------------------------------------------------------------------------- the checks


class Runner:
    def __init__(self, args):
        self.args = args
        self.passed, self.failed = [], []
        self.parsed = Parsed(args.node)
        self.tmp = tempfile.mkdtemp(prefix="terraform-check-")

    def check(self, name, fn, *a):
        try:
            fn(*a)
        except (Failure, h.HclError) as e:
            self.failed.append(name)
            print(f"FAIL {name}\n     {e}")
            return False
        except Exception:  # a bug in a check is a failure too, with its trace
            self.failed.append(name)
            print(f"FAIL {name}\n" + traceback.format_exc())
            return False
        self.passed.append(name)
        print(f"ok   {name}")
        return True

    # ---- 1. parsing
    def parse_all(self):
        files = tf_files()
        expect(len(files) >= 15, f"found only {len(files)} .tf files under {TERRAFORM}")
        extra = [os.path.join(EXAMPLE, "terraform.tfvars.example"), os.path.join(EXAMPLE_V010, "terraform.tfvars.example")]
        docs = self.parsed.run(files + extra)
        for f in files + extra:
            expect(f in docs, f"{f}: no parse result")
            expect(isinstance(docs[f], dict) and docs[f], f"{os.path.relpath(f, REPO)}: parsed to nothing")
        self.parsed.docs = docs
        print(f"     {len(files)} .tf files and the example's tfvars parse with HCL's own parser")

    # ---- 2. interface
    def variables_match(self, module_name, upstream=None, messages=True):
        upstream = upstream or UPSTREAM[module_name]
        directory = os.path.join(MODULES, module_name)
        ours = {}
        for doc in self.parsed.module_files(directory).values():
            ours.update({k: v[0] for k, v in doc.get("variable", {}).items()})
        want = dict(upstream["variables"], **OUR_VARIABLES.get(module_name, {}))
        missing, extra = sorted(set(want) - set(ours)), sorted(set(ours) - set(want))
        expect(not missing and not extra, f"{module_name}: variables missing {missing}, not upstream {extra}")
        problems = []
        for name, spec in want.items():
            block = ours[name]
            where = f"{module_name}/var.{name}"
            got_type = canonical_type(block["type"], where)
            if got_type != spec["type"]:
                problems.append(f"{where}: type {got_type}, upstream {spec['type']}")
            if ("default" in spec) != ("default" in block):
                problems.append(f"{where}: {'optional' if 'default' in block else 'required'} here, not upstream")
            elif "default" in spec:
                got = h.evaluate_json(block["default"], h.Scope({}, origin=where))
                want_default = OUR_IMAGE if name == "consul_ecs_image" else spec["default"]
                if got != want_default:
                    problems.append(f"{where}: default {got!r}, want {want_default!r}")
            got_msgs = [v["error_message"] for v in block.get("validation", [])]
            if messages and sorted(got_msgs) != sorted(spec.get("validation", [])):
                problems.append(f"{where}: validation messages {got_msgs}, upstream {spec.get('validation', [])}")
        expect(not problems, "\n     ".join(problems))

    def outputs_match(self, module_name, allowed_extra=(), upstream=None):
        upstream = upstream or UPSTREAM[module_name]
        directory = os.path.join(MODULES, module_name)
        ours = set()
        for doc in self.parsed.module_files(directory).values():
            ours |= set(doc.get("output", {}))
        want = set(upstream["outputs"])
        expect(want <= ours, f"{module_name}: outputs missing {sorted(want - ours)}")
        expect(ours - want <= set(allowed_extra), f"{module_name}: outputs not upstream {sorted(ours - want - set(allowed_extra))}")

    def one_agent_for_both(self):
        """mesh-task and gateway-task build their consul-client, mesh-init and health-sync
        from the one internal module (upstream kept two identical copies of the templates):
        for the same agent inputs, both tasks carry the same consul-client container."""
        expect(not os.path.exists(os.path.join(MODULES, "mesh-task", "templates"))
               and not os.path.exists(os.path.join(MODULES, "gateway-task", "templates")),
               "a public module has templates of its own; they live in modules/internal/agent-task")
        agent = {"retry_join": ["10.0.0.1"], "acls": True, "consul_http_addr": "https://consul:8501", "tls": True,
                 "consul_server_ca_cert_arn": "arn:ca", "consul_https_ca_cert_arn": "arn:https", "gossip_key_secret_arn": "arn:g",
                 "consul_partition": "p", "consul_agent_configuration": 'log_level = "DEBUG"', "log_configuration": {"logDriver": "x"}}
        mesh = load_module(self.parsed, os.path.join(MODULES, "mesh-task"),
                           dict(agent, family="web", port=80, consul_namespace="n", container_definitions=[{"name": "app", "image": "x"}]))
        gw = load_module(self.parsed, os.path.join(MODULES, "gateway-task"),
                         dict(agent, family="gw", ecs_cluster_arn="arn", kind="mesh-gateway", subnets=["s"]))
        a, b = by_name(containers_of(mesh)), by_name(containers_of(gw))
        expect_eq(a["consul-client"], b["consul-client"], "consul-client of mesh-task vs gateway-task")
        for name in ("consul-ecs-mesh-init", "consul-ecs-health-sync"):
            strip = lambda c: {k: v for k, v in c.items() if k != "environment"}  # the configs differ by kind
            expect_eq(strip(a[name]), strip(b[name]), f"{name} of mesh-task vs gateway-task")

    def resources_moved(self):
        """The public modules hold their task definition, roles (and gateway-task its load balancer) through
        internal modules; a `moved` block takes each of upstream's resources there, so an
        existing state keeps them (no destroy and re-create)."""
        count = 0
        for name in ("mesh-task", "gateway-task", "acl-controller", "v0.10/mesh-task", "v0.10/gateway-task", "v0.10/controller"):
            directory = os.path.join(MODULES, name)
            files = self.parsed.module_files(directory)
            calls = {n: b[0]["source"] for doc in files.values() for n, b in doc.get("module", {}).items()}
            moved_to = {}
            for mv in (mv for doc in files.values() for mv in doc.get("moved", [])):
                src = re.fullmatch(r"\$\{(\w+)\.(\w+)\}", mv["from"])
                dst = re.fullmatch(r"\$\{module\.(\w+)\.(\w+)\.(\w+)(\[0\])?\}", mv["to"])
                expect(src and dst and dst.group(1) in calls, f"{name}: a moved block this check cannot read: {mv}")
                expect_eq(src.groups(), dst.groups()[1:3], f"{name}: moved from {mv['from']} to another resource")
                moved_to.setdefault(dst.group(1), set()).add(src.groups())
            for call, source in calls.items():
                held = set(self.parsed_module(os.path.normpath(os.path.join(name, source))).resources)
                expect_eq(sorted(moved_to.get(call, set())), sorted(held), f"{name}: moved blocks into module.{call}")
                count += len(held)
            ours = {(t, n) for doc in files.values() for t, named in doc.get("resource", {}).items() for n in named}
            moved_away = set().union(*moved_to.values()) if moved_to else set()
            expect(not ours & moved_away, f"{name}: still declares moved resources itself: {sorted(ours & moved_away)}")
        expect(count >= 30, f"only {count} moved resources found")
        print(f"     {count} moved blocks take upstream's addresses into the internal modules")

    def parsed_module(self, rel):
        directory = os.path.join(MODULES, rel)
        stub_inputs = {}
        return h.Module(directory, self.parsed.module_files(directory), stub_inputs, DATA_STUBS, where=rel, parse=self.parsed.module_files)

    # ---- 3. the example, evaluated
    def example(self):
        tfvars = self.parsed.docs[os.path.join(EXAMPLE, "terraform.tfvars.example")]
        ex = load_module(self.parsed, EXAMPLE, tfvars, where="examples/client-server")
        return ex

    def example_is_valid(self):
        ex = self.example()
        errors = ex.validation_errors()
        for name in ("acl_controller", "client", "server"):
            child = ex.module_call(name).module
            errors += [f"module.{name}: {e}" for e in child.validation_errors()]
        expect(not errors, f"the example does not plan: {errors}")
        for svc in ("client", "server"):
            r = ex.resource("aws_ecs_service", svc)
            expect_eq(r.attr("propagate_tags"), "TASK_DEFINITION", f"aws_ecs_service.{svc}.propagate_tags")
            expect_eq(r.attr("task_definition"), f"<aws_ecs_task_definition.this.arn>",
                      f"aws_ecs_service.{svc}.task_definition")

    def mesh_task_matches_upstream(self, module, inputs, label):
        """Containers, dependsOn, mounts, health checks, tags and IAM of one mesh-task."""
        up = UPSTREAM["mesh-task"]
        var = module.var_value
        containers = containers_of(module)
        named = by_name(containers)
        apps_in = var("container_definitions")
        app_names = [c["name"] for c in apps_in]
        wrapped = [c["name"] for c in apps_in
                   if var("application_shutdown_delay_seconds") and var("application_shutdown_delay_seconds") > 0
                   and "entryPoint" not in c]

        # Which containers, in which order: the apps, upstream's four, then ours.
        checks = var("checks")
        synced = [c["name"] for c in apps_in if not checks and "essential" in c and c.get("healthCheck") is not None]
        health_sync = bool(synced) or var("acls")
        want_order = app_names + [n for n in up["containers_after_apps"] if n != "consul-ecs-health-sync" or health_sync]
        if wrapped:
            want_order.append(APP_INIT)
        expect_eq([c["name"] for c in containers], want_order, f"{label}: container names and order")

        # Upstream's containers, field by field.
        for name, spec in up["containers"].items():
            if name not in named:
                continue
            c = named[name]
            where = f"{label}: {name}"
            expect_eq(c["image"], var(spec["image_variable"]), f"{where}: image")
            # Deliberate difference: the sidecar is essential unless turned off.
            want_essential = var("sidecar_proxy_essential") if name == "sidecar-proxy" else spec["essential"]
            expect_eq(c["essential"], want_essential, f"{where}: essential (README: the sidecar is essential)")
            for field in ("entryPoint", "command"):
                if field in spec:
                    expect_eq(c.get(field), spec[field], f"{where}: {field}")
            want_deps = spec["dependsOn"] + ([HEALTH_SYNC_AFTER_CLIENT] if name == "consul-ecs-health-sync" else [])
            expect_eq(c.get("dependsOn") or [], want_deps, f"{where}: dependsOn (README: ordered shutdown)")
            expect_eq(mounts(c), spec["mounts"], f"{where}: mountPoints")
            expect_eq(env_names(c), spec["environment"], f"{where}: environment")
            if "secrets_when" in spec:
                want = [s for cond, s in spec["secrets_when"].items() if (var(cond) not in (False, ""))]
                expect_eq(secret_names(c), want, f"{where}: secrets")
            else:
                expect_eq(secret_names(c), spec["secrets"], f"{where}: secrets")
            if "healthCheck" in spec:
                hc = json.loads(json.dumps(spec["healthCheck"]).replace(
                    "<envoy_public_listener_port>", str(var("envoy_public_listener_port"))))
                expect_eq(c.get("healthCheck"), hc, f"{where}: healthCheck")
            if "ulimits" in spec:
                expect_eq(c.get("ulimits"), spec["ulimits"], f"{where}: ulimits")
            if "portMappings" in spec:
                expect_eq(c.get("portMappings"), spec["portMappings"], f"{where}: portMappings")
            expect_eq(bool((c.get("linuxParameters") or {}).get("initProcessEnabled")),
                      spec.get("initProcessEnabled", False), f"{where}: initProcessEnabled")
            expect_eq(c.get("logConfiguration"), var("log_configuration"), f"{where}: logConfiguration")
            # Deliberate differences: an explicit shared uid; read-only root filesystems.
            expect_eq(c.get("user"), CLIENT_UID if name == "consul-client" else SHARED_UID,
                      f"{where}: user (README: file ownership)")
            expect_eq(c.get("readonlyRootFilesystem", False), name != "consul-client",
                      f"{where}: readonlyRootFilesystem (README: read-only root filesystems)")
            expect("stopTimeout" not in c, f"{where}: stopTimeout is set")

        if health_sync:
            expect_stopped_before(containers, "consul-ecs-health-sync", "consul-client", label)

        # The application containers.
        for app in apps_in:
            c = named[app["name"]]
            where = f"{label}: app container {app['name']}"
            want_deps = list(app.get("dependsOn", [])) + up["app_containers"]["dependsOn_appended"]
            if app["name"] in wrapped:
                want_deps.append({"containerName": APP_INIT, "condition": "SUCCESS"})
            expect_eq(c["dependsOn"], want_deps, f"{where}: dependsOn")
            if app["name"] in wrapped:
                ep = [x.replace("<application_shutdown_delay_seconds>", str(var("application_shutdown_delay_seconds")))
                      for x in up["app_containers"]["app_entrypoint"]]
                expect_eq(c["entryPoint"], ep, f"{where}: entryPoint")
                expect_eq(mounts(c), mounts(app) + [[APP_VOLUME, "/consul", True]],
                          f"{where}: mountPoints (README: the app mounts only the binary)")
            else:
                expect_eq(c.get("entryPoint"), app.get("entryPoint"), f"{where}: entryPoint")
                expect_eq(mounts(c), mounts(app), f"{where}: mountPoints")
            for k, v in app.items():
                if k not in ("dependsOn", "entryPoint", "mountPoints"):
                    expect_eq(c.get(k), v, f"{where}: {k} (passed through)")
            expect(all(m[0] != "consul_data" for m in mounts(c)),
                   f"{where}: mounts consul_data, the volume with the tokens and the Envoy bootstrap")

        # The helper that copies the binary for app-entrypoint.
        if wrapped:
            c = named[APP_INIT]
            expect_eq(c["image"], var("consul_image"), f"{label}: {APP_INIT} image")
            expect_eq(c["essential"], False, f"{label}: {APP_INIT} essential")
            expect_eq(c["dependsOn"], [{"containerName": "consul-ecs-mesh-init", "condition": "SUCCESS"}],
                      f"{label}: {APP_INIT} dependsOn")
            expect_eq(mounts(c), [["consul_data", "/consul", True], [APP_VOLUME, "/consul-ecs-app-entrypoint", False]],
                      f"{label}: {APP_INIT} mountPoints")
            expect_eq(c["user"], SHARED_UID, f"{label}: {APP_INIT} user")
            script = " ".join(c["command"])
            expect("/consul/consul-ecs" in script and "/consul-ecs-app-entrypoint/consul-ecs" in script,
                   f"{label}: {APP_INIT} does not copy /consul/consul-ecs into the app volume: {script}")
            self.sh_syntax(script, f"{label}: {APP_INIT} command")

        # Task definition.
        td = resource_of(module, "aws_ecs_task_definition", "this")
        expect_eq(td.attr("network_mode"), up["task"]["network_mode"], f"{label}: network_mode")
        vols = task_volumes(module)
        user_vols = [v["name"] for v in var("volumes")]
        want_vols = up["task"]["leading_volumes"] + ([APP_VOLUME] if wrapped else []) + user_vols
        expect_eq(vols, want_vols, f"{label}: task volumes")
        service = var("consul_service_name") or var("family").lower()
        tags = dict(var("tags"))
        tags.update({k: (service if v == "<service name>" else v) for k, v in up["task_tags"].items()})
        for v, key in up["optional_task_tags"].items():
            if var(v):
                tags[key] = var(v)
        expect_eq(td.attr("tags"), tags, f"{label}: task definition tags")
        expect_eq(module.output("task_tags"), tags, f"{label}: output task_tags")

        # IAM.
        family, path = var("family"), var("iam_role_path")
        if var("create_task_role"):
            role = resource_of(module, "aws_iam_role", "task")[0]
            expect_eq([role.attr("name"), role.attr("path")], [f"{family}-task", path], f"{label}: task role name/path")
            expect_eq(role.attr("tags"), {"consul.hashicorp.com.service-name": service,
                                          "consul.hashicorp.com.namespace": var("consul_namespace")},
                      f"{label}: task role tags")
            check_trust(module, "task")
            expect_eq(module.output("task_role_arn"), "<aws_iam_role.task[0].arn>", f"{label}: output task_role_arn")
            expect_eq(td.attr("task_role_arn"), "<aws_iam_role.task[0].arn>", f"{label}: task_role_arn")
            pols = resource_of(module, "aws_iam_policy", "task")
            if var("acls"):
                expect_eq(len(pols), 1, f"{label}: task policies")
                expect_eq(policy_statements(module, "aws_iam_policy", "task"),
                          [{"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": ["<aws_iam_role.task[0].arn>"]}],
                          f"{label}: task policy (iam:GetRole on the task role itself only)")
                att = resource_of(module, "aws_iam_role_policy_attachment", "task")[0]
                expect_eq([att.attr("role"), att.attr("policy_arn")], ["<aws_iam_role.task[0].id>", "<aws_iam_policy.task[0].arn>"],
                          f"{label}: task policy attachment")
            else:
                expect_eq(len(pols), 0, f"{label}: task policies without ACLs")
        if var("create_execution_role"):
            role = resource_of(module, "aws_iam_role", "execution")[0]
            expect_eq([role.attr("name"), role.attr("path")], [f"{family}-execution", path], f"{label}: execution role")
            check_trust(module, "execution")
            sts = policy_statements(module, "aws_iam_policy", "execution")
            secrets = [a for a in [var("consul_server_ca_cert_arn") if var("tls") else "",
                                   var("consul_https_ca_cert_arn"), var("gossip_key_secret_arn")] if a]
            want = ([{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": list(dict.fromkeys(secrets))}]
                    if secrets else [])
            log_res = "*"
            lc = var("log_configuration") or {}
            if lc.get("options", {}).get("awslogs-group"):
                o = lc["options"]
                log_res = f"arn:aws:logs:{o.get('awslogs-region', 'us-east-1')}:*:log-group:{o['awslogs-group']}:log-stream:*"
            want.append({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": [log_res]})
            expect_eq(sts, want, f"{label}: execution policy")
        got_actions = all_policy_actions(module)
        allowed = set(up["iam"]["execution_policy"]["actions"]) | set(up["iam"]["task_policy"]["actions"])
        expect(got_actions <= allowed, f"{label}: IAM actions beyond upstream's: {sorted(got_actions - allowed)}")
        return containers

    def config_matches_upstream(self, module, containers, label, kind="mesh-task"):
        named = by_name(containers)
        raw = config_of(named["consul-ecs-mesh-init"])
        if "consul-ecs-health-sync" in named:
            expect_eq(config_of(named["consul-ecs-health-sync"]), raw, f"{label}: health-sync's config differs from mesh-init's")
        cfg = json.loads(raw)
        up = UPSTREAM[kind]
        var = module.var_value
        expect_eq(sorted(cfg), sorted(up["config_keys"]), f"{label}: config keys")
        expect_eq(cfg["bootstrapDir"], "/consul", f"{label}: bootstrapDir")
        expect_eq(cfg["consulHTTPAddr"], var("consul_http_addr"), f"{label}: consulHTTPAddr")
        expect_eq(cfg["consulCACertFile"], "/consul/consul-https-ca-cert.pem" if var("consul_https_ca_cert_arn") else "",
                  f"{label}: consulCACertFile")
        login = {"enabled": True, "method": var("service_token_auth_method_name")} if var("acls") else {}
        login.update(var("consul_ecs_config").get("consulLogin", {}))
        expect_eq(cfg["consulLogin"], login, f"{label}: consulLogin")
        if kind == "mesh-task":
            expect_eq(sorted(cfg["service"]), sorted(set(up["config_service_keys"]) | set(var("consul_ecs_config").get("service", {}))),
                      f"{label}: service keys")
            expect_eq(cfg["service"]["port"], var("port"), f"{label}: service.port")
            expect_eq(cfg["service"]["checks"], var("checks"), f"{label}: service.checks")
            expect_eq(cfg["proxy"]["upstreams"], var("upstreams"), f"{label}: proxy.upstreams")
            expect_eq(cfg["proxy"]["publicListenerPort"], var("envoy_public_listener_port"), f"{label}: proxy.publicListenerPort")
            apps = var("container_definitions")
            synced = [c["name"] for c in apps if not var("checks") and "essential" in c and c.get("healthCheck") is not None]
            expect_eq(cfg["healthSyncContainers"], synced, f"{label}: healthSyncContainers")
        return raw

    def validate_config(self, raw, label, want_ok=True):
        path = os.path.join(self.tmp, re.sub(r"[^a-z0-9]+", "-", label.lower()) + ".json")
        with open(path, "w", encoding="utf-8") as f:
            f.write(raw)
        proc = subprocess.run([self.args.binary, "validate-config", "-config-file", path],
                              capture_output=True, text=True, timeout=30)
        out = (proc.stdout + proc.stderr).strip()
        if want_ok:
            expect(proc.returncode == 0 and out.endswith("OK"),
                   f"{label}: consul-ecs validate-config rejects the module's config (exit {proc.returncode}): {out}\n     {raw}")
        else:
            expect(proc.returncode == 1, f"{label}: validate-config accepted a broken config (exit {proc.returncode}): {out}")

    def sh_syntax(self, script, label):
        proc = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True)
        expect(proc.returncode == 0, f"{label}: sh -n: {proc.stderr.strip()}")

    # ---- the example's mesh tasks
    def example_client(self):
        ex = self.example()
        m = ex.module_call("client").module
        containers = self.mesh_task_matches_upstream(m, None, "example client")
        expect(APP_INIT in by_name(containers), "the example client should use app-entrypoint")
        raw = self.config_matches_upstream(m, containers, "example client")
        self.validate_config(raw, "example client")
        cfg = json.loads(raw)
        expect_eq(cfg["proxy"]["upstreams"], [{"destinationName": "consul-ecs-example-server", "localBindPort": 1234}],
                  "example client: the upstream to the server")
        expect_eq(cfg["healthSyncContainers"], ["client"], "example client: healthSyncContainers")

    def example_server(self):
        ex = self.example()
        m = ex.module_call("server").module
        containers = self.mesh_task_matches_upstream(m, None, "example server")
        raw = self.config_matches_upstream(m, containers, "example server")
        self.validate_config(raw, "example server")
        cfg = json.loads(raw)
        expect_eq(cfg["service"]["name"], "consul-ecs-example-server", "example server: service name = the client's upstream")

    def example_controller(self):
        ex = self.example()
        m = ex.module_call("acl_controller").module
        self.controller_matches_upstream(m, "example acl-controller")

    def controller_matches_upstream(self, m, label):
        up = UPSTREAM["acl-controller"]
        var = m.var_value
        svc = resource_of(m, "aws_ecs_service", "this")
        expect_eq([svc.attr("name"), svc.attr("desired_count")], [up["service"]["name"], up["service"]["desired_count"]],
                  f"{label}: service")
        expect_eq(svc.attr("enable_execute_command"), False, f"{label}: ECS Exec (README: no exec)")
        td = resource_of(m, "aws_ecs_task_definition", "this")
        expect_eq([td.attr("family"), td.attr("cpu"), td.attr("memory"), td.attr("network_mode")],
                  [f"{var('name_prefix')}-consul-acl-controller", up["task"]["cpu"], up["task"]["memory"], up["task"]["network_mode"]],
                  f"{label}: task definition")
        containers = containers_of(m)
        expect_eq([c["name"] for c in containers], [up["container"]["name"]], f"{label}: containers")
        c = containers[0]
        expect_eq(c["image"], var("consul_ecs_image"), f"{label}: image")
        expect_eq([c["essential"], c["readonlyRootFilesystem"], c["linuxParameters"]["initProcessEnabled"]], [True, True, True],
                  f"{label}: essential / readonlyRootFilesystem / initProcessEnabled")
        want_cmd = [x.replace("<iam_role_path>", var("iam_role_path")) for x in up["container"]["command"]]
        if var("consul_partitions_enabled"):
            want_cmd += [x.replace("<consul_partition>", var("consul_partition")) for x in up["container"]["command_with_partitions"]]
        expect_eq(c["command"], want_cmd, f"{label}: command")
        expect_eq(secret_names(c), up["container"]["secrets"] + ([up["container"]["secrets_when_ca"]] if var("consul_server_ca_cert_arn") else []),
                  f"{label}: secrets")
        expect_eq(env_names(c), up["container"]["environment"], f"{label}: environment")
        # IAM: exactly what the controller needs.
        task_role = resource_of(m, "aws_iam_role", "task")
        expect_eq([task_role.attr("name"), task_role.attr("path")],
                  [f"{var('name_prefix')}-consul-acl-controller-task", "<aws_iam_role.task.path>"], f"{label}: task role (no path)")
        sts = policy_statements(m, "aws_iam_role_policy", "task")
        acts = sorted(a for st in sts for a in st["Action"])
        expect_eq(acts, sorted(up["iam"]["task_role"]["controller_actions"]), f"{label}: task role actions (exactly these)")
        for st in sts:
            expect_eq(st.get("Condition"), {"ArnEquals": {"ecs:cluster": var("ecs_cluster_arn")}},
                      f"{label}: task role scoped to the cluster")
        exe = resource_of(m, "aws_iam_role", "execution")
        expect_eq([exe.attr("name"), exe.attr("path")],
                  [f"{var('name_prefix')}-consul-acl-controller-execution", up["iam"]["execution_role"]["path"]], f"{label}: execution role")
        check_trust(m, "task")
        check_trust(m, "execution")
        sts = policy_statements(m, "aws_iam_policy", "execution")
        secrets = [var(v) for v in up["iam"]["execution_policy"]["secrets"] if var(v)]
        expect_eq(sts[0], {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": secrets},
                  f"{label}: execution policy reads the bootstrap token (and CA) secret")
        expect_eq(sorted(sts[1]["Action"]), ["logs:CreateLogStream", "logs:PutLogEvents"], f"{label}: execution policy logs")
        allowed = set(up["iam"]["task_role"]["controller_actions"]) | set(up["iam"]["execution_policy"]["actions"])
        expect_eq(all_policy_actions(m), allowed, f"{label}: every IAM action of the module")

    # ---- other inputs
    def mesh_minimal(self):
        inputs = {"family": "Minimal", "port": 8080, "retry_join": ["consul.internal"],
                  "container_definitions": [{"name": "app", "image": "nginx", "essential": True}]}
        m = load_module(self.parsed, os.path.join(MODULES, "mesh-task"), inputs, where="mesh-task (minimal)")
        expect_eq(m.validation_errors(), [], "mesh-task (minimal): plan errors")
        containers = self.mesh_task_matches_upstream(m, inputs, "mesh-task (minimal)")
        expect("consul-ecs-health-sync" not in by_name(containers), "mesh-task (minimal): health-sync without checks or ACLs")
        raw = self.config_matches_upstream(m, containers, "mesh-task (minimal)")
        expect_eq(json.loads(raw)["service"]["name"], "minimal", "mesh-task (minimal): the service name is the lower-cased family")
        self.validate_config(raw, "mesh-task minimal")
        broken = json.loads(raw)
        del broken["bootstrapDir"]
        self.validate_config(json.dumps(broken), "mesh-task minimal without bootstrapDir", want_ok=False)

    def mesh_enterprise(self):
        inputs = {"family": "ent", "outbound_only": True, "retry_join": ["consul.internal"],
                  "consul_partition": "part1", "consul_namespace": "ns1", "acls": True,
                  "consul_http_addr": "https://consul:8501", "consul_https_ca_cert_arn": "arn:aws:secretsmanager:us-east-1:1:secret:https-ca",
                  "tags": {"team": "x", "consul.hashicorp.com/mesh": "overridden"},
                  "create_task_role": False, "task_role": {"id": "mine", "arn": "arn:aws:iam::1:role/mine"},
                  "application_shutdown_delay_seconds": 3, "sidecar_proxy_essential": False,
                  "volumes": [{"name": "data", "host_path": "/data"}],
                  "consul_ecs_config": {"service": {"enableTagOverride": True}, "proxy": {"meshGateway": {"mode": "local"}},
                                        "consulLogin": {"region": "eu-west-1"}},
                  "container_definitions": [
                      {"name": "worker", "image": "w", "essential": True, "command": ["work"],
                       "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": False}],
                       "dependsOn": [{"containerName": "db", "condition": "START"}]},
                      {"name": "db", "image": "d", "essential": False, "entryPoint": ["/db"]}]}
        m = load_module(self.parsed, os.path.join(MODULES, "mesh-task"), inputs, where="mesh-task (enterprise)")
        expect_eq(m.validation_errors(), [], "mesh-task (enterprise): plan errors")
        containers = self.mesh_task_matches_upstream(m, inputs, "mesh-task (enterprise)")
        expect_eq(resource_of(m, "aws_iam_role", "task"), [], "mesh-task (enterprise): no task role is created for a passed role")
        expect_eq(m.output("task_role_arn"), "arn:aws:iam::1:role/mine", "mesh-task (enterprise): output task_role_arn")
        raw = self.config_matches_upstream(m, containers, "mesh-task (enterprise)")
        cfg = json.loads(raw)
        expect_eq([cfg["service"]["namespace"], cfg["service"]["partition"], cfg["service"]["enableTagOverride"]],
                  ["ns1", "part1", True], "mesh-task (enterprise): service namespace/partition/extras")
        expect_eq(cfg["proxy"]["meshGateway"], {"mode": "local"}, "mesh-task (enterprise): proxy extras")
        self.validate_config(raw, "mesh-task enterprise")

    def gateway(self):
        inputs = {"family": "dc1-mesh-gateway", "ecs_cluster_arn": "arn:aws:ecs:us-east-1:1:cluster/c", "kind": "mesh-gateway",
                  "subnets": ["subnet-1"], "retry_join": ["consul.internal"], "acls": True, "tls": True,
                  "consul_server_ca_cert_arn": "arn:aws:secretsmanager:us-east-1:1:secret:ca",
                  "consul_http_addr": "https://consul:8501", "enable_mesh_gateway_wan_federation": True,
                  "lb_enabled": True, "lb_vpc_id": "vpc-1", "lb_subnets": ["subnet-2"], "consul_service_meta": {"a": "b"}}
        m = load_module(self.parsed, os.path.join(MODULES, "gateway-task"), inputs, where="gateway-task")
        expect_eq(m.validation_errors(), [], "gateway-task: plan errors")
        up = UPSTREAM["gateway-task"]
        containers = containers_of(m)
        expect_eq([c["name"] for c in containers], up["containers"], "gateway-task: containers")
        named = by_name(containers)
        sp = named["sidecar-proxy"]
        expect_eq(sp["essential"], True, "gateway-task: sidecar-proxy essential")
        expect_eq(sp["portMappings"], [{"containerPort": 8443, "hostPort": 8443, "protocol": "tcp"}], "gateway-task: port mapping")
        expect_eq(sp["healthCheck"]["command"], ["/consul/consul-ecs", "net-dial", "127.0.0.1:8443"], "gateway-task: health check")
        mt = UPSTREAM["mesh-task"]["containers"]
        for name in up["containers"]:
            c = named[name]
            expect_eq(mounts(c), mt[name]["mounts"], f"gateway-task: {name} mountPoints")
            want_deps = mt[name]["dependsOn"] + ([HEALTH_SYNC_AFTER_CLIENT] if name == "consul-ecs-health-sync" else [])
            expect_eq(c.get("dependsOn") or [], want_deps, f"gateway-task: {name} dependsOn (README: ordered shutdown)")
            expect_eq(c.get("user"), CLIENT_UID if name == "consul-client" else SHARED_UID,
                      f"gateway-task: {name} user")
        expect_stopped_before(containers, "consul-ecs-health-sync", "consul-client", "gateway-task")
        raw = self.config_matches_upstream(m, containers, "gateway-task", kind="gateway-task")
        cfg = json.loads(raw)
        expect_eq(sorted(cfg["gateway"]), sorted(up["config_gateway_keys"]), "gateway-task: gateway keys")
        expect_eq(cfg["gateway"]["meta"], {"a": "b", **up["wan_federation_meta"]}, "gateway-task: WAN federation meta")
        expect_eq(cfg["gateway"]["wanAddress"], {"address": "<aws_lb.this[0].dns_name>", "port": 8443}, "gateway-task: WAN address")
        expect_eq(cfg["healthSyncContainers"], [], "gateway-task: healthSyncContainers")
        self.validate_config(raw.replace("<aws_lb.this[0].dns_name>", "gw.elb.example.com"), "gateway-task")
        svc = m.resource("aws_ecs_service", "this")
        expect_eq(svc.attr("propagate_tags"), up["service"]["propagate_tags"], "gateway-task: propagate_tags")
        expect_eq(sorted(m.output(o) is not None for o in ("wan_address", "wan_port")), [True, True], "gateway-task: outputs")
        actions = all_policy_actions(m)
        allowed = set(UPSTREAM["mesh-task"]["iam"]["execution_policy"]["actions"]) | {"iam:GetRole"}
        expect_eq(actions, allowed, "gateway-task: IAM actions")
        expect_eq(policy_statements(m, "aws_iam_policy", "task"),
                  [{"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": ["<aws_iam_role.task[0].arn>"]}],
                  "gateway-task: iam:GetRole on itself only")

    # ---- v0.10 (Consul Dataplane) modules
    def v010_schema_valid(self, raw, label, want_ok=True):
        """The config against consul-ecs v0.10's JSON schema (upstream's own file, with the
        jsonschema package of the test venv), and through our `validate-config`, which must
        read it as a v0.10 config."""
        venv_python = os.path.join(HERE, ".venv", "bin", "python")
        expect(os.access(venv_python, os.X_OK), f"{venv_python} missing: run make terraform-check (it installs the venv)")
        code = ("import json, sys, jsonschema\n"
                "schema = json.load(open(sys.argv[1]))\n"
                "errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(json.loads(sys.stdin.read())), key=str)\n"
                "print('\\n'.join(f'{list(e.absolute_path)}: {e.message}' for e in errors))\n"
                "sys.exit(1 if errors else 0)\n")
        proc = subprocess.run([venv_python, "-c", code, V010_SCHEMA], input=raw, capture_output=True, text=True, timeout=60)
        if want_ok:
            expect(proc.returncode == 0, f"{label}: the config breaks the v0.10 schema: {proc.stdout}{proc.stderr}\n     {raw}")
        else:
            expect(proc.returncode == 1 and proc.stdout.strip(), f"{label}: the schema accepted a broken config: {proc.stderr}")
        self.validate_config(raw, label, want_ok)
        if want_ok:
            out = subprocess.run([self.args.binary, "validate-config"], input=None, capture_output=True, text=True,
                                 timeout=30, env={"CONSUL_ECS_CONFIG_JSON": raw, "PATH": os.environ.get("PATH", "")})
            expect("v0.10 (Consul Dataplane) config: OK" in out.stdout + out.stderr,
                   f"{label}: validate-config does not read the module's config as v0.10: {out.stdout}{out.stderr}")

    def v010_mesh_task(self, inputs, label):
        """One evaluated v0.10 mesh-task against upstream's v0.10 layout and the documented
        differences; returns (module, containers by name, config)."""
        up = UPSTREAM_V010["mesh-task"]
        m = load_module(self.parsed, os.path.join(V010, "mesh-task"), inputs, where=label)
        expect_eq(m.validation_errors(), [], f"{label}: plan errors")
        var = m.var_value
        containers = containers_of(m)
        named = by_name(containers)
        apps = var("container_definitions")
        expect_eq([c["name"] for c in containers], [a["name"] for a in apps] + up["containers_after_apps"], f"{label}: containers")
        tproxy = var("enable_transparent_proxy")
        ca = {name: next((var(v) for v in arns if var(v)), "") for name, arns in up["ca_secrets_when_tls"].items()} if var("tls") else {}
        want_secrets = [n for n in ("CONSUL_HTTPS_CACERT_PEM", "CONSUL_GRPC_CACERT_PEM") if ca.get(n)]
        for name, spec in up["containers"].items():
            c, where = named[name], f"{label}: {name}"
            expect_eq(c["image"], var(spec["image_variable"]), f"{where}: image")
            for field in ("entryPoint", "command", "dependsOn", "ulimits", "portMappings"):
                if field in spec:
                    got = c.get(field) or [] if field == "dependsOn" else c.get(field)
                    expect_eq(got, spec[field], f"{where}: {field}")
            expect_eq(mounts(c), spec["mounts"], f"{where}: mountPoints")
            expect_eq(env_names(c), spec["environment"], f"{where}: environment")
            expect_eq(secret_names(c), [] if name == "consul-dataplane" else want_secrets, f"{where}: secrets")
            expect_eq(c.get("logConfiguration"), var("log_configuration"), f"{where}: logConfiguration")
            lp = c.get("linuxParameters") or {}
            expect_eq(bool(lp.get("initProcessEnabled")), spec["initProcessEnabled"], f"{where}: initProcessEnabled")
            if "healthCheck" in spec:
                hc = json.loads(json.dumps(spec["healthCheck"]).replace("<envoy_readiness_port>", str(var("envoy_readiness_port"))))
                expect_eq(c["healthCheck"], hc, f"{where}: healthCheck")
            # Deliberate differences (README): the dataplane essential unless turned off;
            # read-only root filesystems (mesh-init only without transparent proxy); an
            # explicit user on mesh-init; no empty capabilities key (#318).
            want_essential = var("consul_dataplane_essential") if name == "consul-dataplane" else spec["essential"]
            expect_eq(c["essential"], want_essential, f"{where}: essential (README: the dataplane is essential)")
            expect_eq(c.get("readonlyRootFilesystem"), not (tproxy and name == "consul-ecs-mesh-init"), f"{where}: readonlyRootFilesystem")
            if name == "consul-ecs-mesh-init":
                expect_eq(c["user"], spec["user_with_transparent_proxy"] if tproxy else SHARED_UID, f"{where}: user")
                if tproxy:
                    expect_eq(lp.get("capabilities"), {"add": spec["capabilities_with_transparent_proxy"]}, f"{where}: capabilities")
                else:
                    expect("capabilities" not in lp, f"{where}: a capabilities key without transparent proxy (#318: a permanent diff)")
            else:
                expect_eq(c["user"], spec["user"], f"{where}: user")
        delay = var("application_shutdown_delay_seconds") or 0
        for app in apps:
            c, where = named[app["name"]], f"{label}: app container {app['name']}"
            expect_eq(c["dependsOn"], list(app.get("dependsOn", [])) + up["app_containers"]["dependsOn_appended"], f"{where}: dependsOn")
            want_ep = app.get("entryPoint") if "entryPoint" in app else (
                [x.replace("<application_shutdown_delay_seconds>", str(delay)) for x in up["app_containers"]["app_entrypoint"]] if delay > 0 else None)
            expect_eq(c.get("entryPoint"), want_ep, f"{where}: entryPoint")
            expect_eq(mounts(c), mounts(app) + ([up["app_containers"]["app_entrypoint_mount"]] if delay > 0 else []), f"{where}: mountPoints")
        # Task definition, tags, IAM.
        td = resource_of(m, "aws_ecs_task_definition", "this")
        expect_eq(td.attr("network_mode"), up["task"]["network_mode"], f"{label}: network_mode")
        expect_eq(task_volumes(m), up["task"]["leading_volumes"] + [v["name"] for v in var("volumes")], f"{label}: task volumes")
        service = var("consul_service_name") or var("family").lower()
        tags = dict(var("tags"))
        tags.update({k: (service if v == "<service name>" else v) for k, v in up["task_tags"].items()})
        tags.update({key: var(v) for v, key in up["optional_task_tags"].items() if var(v)})
        expect_eq(td.attr("tags"), tags, f"{label}: task tags")
        if var("create_task_role"):
            role = resource_of(m, "aws_iam_role", "task")[0]
            expect_eq([role.attr("name"), role.attr("path"), sorted(role.attr("tags"))],
                      [f"{var('family')}-task", var("iam_role_path"), sorted(up["iam"]["task_role"]["tags"])], f"{label}: task role")
            check_trust(m, "task")
            expect_eq(len(resource_of(m, "aws_iam_policy", "task")), 1 if var("acls") else 0, f"{label}: task policies")
            if var("acls"):
                expect_eq(policy_statements(m, "aws_iam_policy", "task"),
                          [{"Effect": "Allow", "Action": ["iam:GetRole"], "Resource": ["<aws_iam_role.task[0].arn>"]}], f"{label}: task policy")
        if var("create_execution_role"):
            sts = policy_statements(m, "aws_iam_policy", "execution")
            # Ours: exactly the secrets injected (upstream: every CA ARN given, with TLS).
            want = [{"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": list(dict.fromkeys(ca[n] for n in want_secrets))}] if want_secrets else []
            expect_eq(sts[:-1], want, f"{label}: execution policy secrets")
            expect_eq(sts[-1]["Action"], ["logs:CreateLogStream", "logs:PutLogEvents"], f"{label}: execution policy logs")
        allowed = set(up["iam"]["task_policy_actions"]) | set(up["iam"]["execution_policy_actions"])
        expect(all_policy_actions(m) <= allowed, f"{label}: IAM actions beyond upstream's: {sorted(all_policy_actions(m) - allowed)}")
        raw = config_of(named["consul-ecs-mesh-init"])
        expect_eq(config_of(named["consul-ecs-health-sync"]), raw, f"{label}: health-sync's config differs from mesh-init's")
        cfg = json.loads(raw)
        expect_eq(sorted(cfg), sorted(up["config_keys"]), f"{label}: config keys")
        self.v010_schema_valid(raw, label)
        return m, named, cfg

    def v010_mesh_defaults(self):
        up = UPSTREAM_V010["mesh-task"]
        _, _, cfg = self.v010_mesh_task(up["example_config_inputs"], "v0.10 mesh-task (upstream's rendered example)")
        expect_eq(cfg, up["example_config"], "v0.10 mesh-task: CONSUL_ECS_CONFIG_JSON = upstream's render")
        broken = dict(cfg)
        del broken["consulServers"]
        self.v010_schema_valid(json.dumps(broken), "v0.10 mesh-task without consulServers", want_ok=False)

    def v010_mesh_full(self):
        inputs = {"family": "api", "port": 9090, "consul_server_hosts": "exec=discover -q addrs provider=aws tag_key=consul",
                  "requires_compatibilities": ["EC2"], "enable_consul_dns": True, "exclude_inbound_ports": [9091],
                  "tls": True, "acls": True, "consul_ca_cert_arn": "arn:ca", "consul_grpc_ca_cert_arn": "arn:grpc",
                  "http_config": {"port": 443}, "consul_partition": "part1", "consul_namespace": "ns1",
                  "application_shutdown_delay_seconds": 5, "consul_dataplane_essential": False,
                  "upstreams": [{"destinationName": "db", "localBindPort": 5432, "destinationPeer": "dc2"}],
                  "consul_ecs_config": {"consulLogin": {"region": "us-east-1"}, "service": {"enableTagOverride": True},
                                        "transparentProxy": {"enabled": False}},
                  "log_configuration": {"logDriver": "awslogs", "options": {"awslogs-group": "g", "awslogs-region": "eu-west-1"}},
                  "container_definitions": [{"name": "api", "image": "x", "essential": True, "healthCheck": {"command": ["true"]},
                                             "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}]},
                                            {"name": "init", "image": "y", "essential": False, "entryPoint": ["/init"]}]}
        m, named, cfg = self.v010_mesh_task(inputs, "v0.10 mesh-task (EC2, transparent proxy, DNS, TLS, ACLs)")
        expect_eq(cfg["consulLogin"], {"enabled": True, "method": "iam-ecs-service-token", "region": "us-east-1"}, "v0.10: consulLogin")
        expect_eq([cfg["consulServers"]["http"], cfg["consulServers"]["grpc"]], [{"https": True, "port": 443}, {"port": 8503}],
                  "v0.10: http/grpc (http_config wins)")
        expect_eq([cfg["transparentProxy"]["enabled"], cfg["transparentProxy"]["consulDNS"], cfg["transparentProxy"]["excludeInboundPorts"]],
                  [True, {"enabled": True}, [9091]], "v0.10: transparentProxy (the consul_ecs_config extra has no effect, as upstream)")
        expect_eq(cfg["healthSyncContainers"], ["api"], "v0.10: healthSyncContainers")
        expect_eq(cfg["service"]["enableTagOverride"], True, "v0.10: service extras")
        expect_eq(cfg["proxy"]["upstreams"][0]["destinationPeer"], "dc2", "v0.10: upstream with destinationPeer")
        expect_eq({s["name"]: s["valueFrom"] for s in named["consul-ecs-mesh-init"]["secrets"]},
                  {"CONSUL_HTTPS_CACERT_PEM": "arn:ca", "CONSUL_GRPC_CACERT_PEM": "arn:grpc"}, "v0.10: CA secrets (own ARN, else the shared one)")
        sts = policy_statements(m, "aws_iam_policy", "execution")
        expect_eq(sts[-1]["Resource"], ["arn:aws:logs:eu-west-1:*:log-group:g:log-stream:*"], "v0.10: logs scoped to the awslogs group")

    def v010_mesh_plan_rules(self):
        base = {"family": "web", "port": 80, "consul_server_hosts": "c", "enable_transparent_proxy": False,
                "container_definitions": [{"name": "app", "image": "x"}]}
        files = self.parsed.module_files(os.path.join(V010, "mesh-task"))
        msgs = {name: [r["error_message"] for r in block[0].get("validation", [])]
                for doc in files.values() for name, block in doc.get("variable", {}).items()}
        pre = [r["error_message"] for r in files["outputs.tf"]["output"]["task_definition_arn"][0]["precondition"]]
        cases = [
            ({}, []),
            ({"port": 0}, [pre[0]]), ({"port": 0, "outbound_only": True}, []),
            ({"envoy_readiness_port": 20000}, [pre[1]]),
            ({"consul_partition": "p"}, [pre[2]]), ({"consul_namespace": "n"}, [pre[3]]),
            ({"create_task_role": False, "additional_task_role_policies": ["a"]}, [pre[4]]),
            ({"create_execution_role": False, "additional_execution_role_policies": ["a"]}, [pre[5]]),
            ({"enable_transparent_proxy": True}, [pre[6]]),   # upstream's defaults do not plan on Fargate either
            ({"enable_transparent_proxy": True, "requires_compatibilities": ["EC2"]}, []),
            ({"enable_consul_dns": True}, [pre[7]]),
            ({"consul_service_name": "Web"}, msgs["consul_service_name"]),
            ({"iam_role_path": "/consul-ecs"}, msgs["iam_role_path"]), ({"iam_role_path": "/"}, []),
            ({"envoy_public_listener_port": 10000}, msgs["envoy_public_listener_port"][1:]),
            ({"envoy_public_listener_port": 0}, msgs["envoy_public_listener_port"][:1]),
            ({"envoy_readiness_port": 19000}, msgs["envoy_readiness_port"][1:]),
            ({"upstreams": [{"destinationName": "a"}]}, msgs["upstreams"][:1]),
            ({"upstreams": [{"destinationName": "a", "localBindPort": 1, "x": 1}]}, msgs["upstreams"][1:]),
            ({"consul_ecs_config": {"gateway": {}}}, msgs["consul_ecs_config"][:1]),
            ({"consul_ecs_config": {"service": {"name": "x"}}}, msgs["consul_ecs_config"][1:2]),
            ({"consul_ecs_config": {"proxy": {"upstreams": []}}}, msgs["consul_ecs_config"][2:3]),
            ({"consul_ecs_config": {"consulLogin": {"datacenter": "x"}}}, msgs["consul_ecs_config"][3:4]),
            ({"http_config": {"x": 1}}, msgs["http_config"]), ({"grpc_config": {"https": True}}, msgs["grpc_config"]),
        ]
        problems = []
        for change, want in cases:
            m = load_module(self.parsed, os.path.join(V010, "mesh-task"), dict(copy.deepcopy(base), **change), where="v0.10 mesh-task")
            got = m.validation_errors()
            if sorted(got) != sorted(want):
                problems.append(f"v0.10 mesh-task with {json.dumps(change)}: got {got}, want {want}")
        expect(not problems, "\n     ".join(problems))
        print(f"     {len(cases)} input sets, each failing with exactly its rule's message (or passing)")

    def v010_gateway(self, inputs, label):
        up = UPSTREAM_V010["gateway-task"]
        m = load_module(self.parsed, os.path.join(V010, "gateway-task"), inputs, where=label)
        expect_eq(m.validation_errors(), [], f"{label}: plan errors")
        var = m.var_value
        containers = containers_of(m)
        extra = [c["name"] for c in var("extra_container_definitions")]
        expect_eq([c["name"] for c in containers], extra + up["containers"], f"{label}: containers")
        named = by_name(containers)
        for c in var("extra_container_definitions"):
            expect_eq(named[c["name"]], c, f"{label}: extra container {c['name']} left as given")
        # The generated containers are mesh-task's (one module builds both), with the
        # gateway's port, mounts and essential dataplane.
        dp = named["consul-dataplane"]
        lan = var("lan_port") or up["dataplane"]["lan_port_default"]
        expect_eq(dp["essential"], up["dataplane"]["essential"], f"{label}: consul-dataplane essential")
        expect_eq(dp["portMappings"], [{"containerPort": lan, "hostPort": lan, "protocol": "tcp"}], f"{label}: port mapping")
        expect_eq(mounts(dp), [["consul_data", "/consul", True]] + [[v["name"], v["host_path"], v.get("read_only", True)] for v in var("volumes")],
                  f"{label}: consul-dataplane mounts (the volumes at their host_path)")
        expect_eq(dp["healthCheck"]["command"][2], f"127.0.0.1:{var('envoy_readiness_port')}", f"{label}: health check port")
        expect_eq(task_volumes(m), ["consul_data", "consul_binary"] + [v["name"] for v in var("volumes")], f"{label}: task volumes")
        raw = config_of(named["consul-ecs-mesh-init"])
        expect_eq(config_of(named["consul-ecs-health-sync"]), raw, f"{label}: health-sync's config differs from mesh-init's")
        cfg = json.loads(raw)
        expect_eq(sorted(cfg), sorted(up["config_keys"]), f"{label}: config keys")
        expect_eq(sorted(cfg["consulServers"]["defaults"]), sorted(up["config_defaults_keys"]), f"{label}: consulServers.defaults keys")
        # Ours (README): gateway.healthCheckPort, so mesh-init listens where the check dials.
        expect_eq(sorted(cfg["gateway"]), sorted(up["config_gateway_keys"] + ["healthCheckPort"]), f"{label}: gateway keys")
        expect_eq(cfg["gateway"]["healthCheckPort"], var("envoy_readiness_port"), f"{label}: gateway.healthCheckPort")
        expect_eq(cfg["gateway"]["namespace"], up["namespace_with_partition"] if var("consul_partition") else "", f"{label}: namespace")
        role = resource_of(m, "aws_iam_role", "task")[0]
        expect_eq(sorted(role.attr("tags")), sorted(up["role_tags"]), f"{label}: task role tags")
        expect_eq(role.attr("tags")["consul.hashicorp.com.gateway-kind"], var("kind"), f"{label}: gateway-kind tag")
        svc = m.resource("aws_ecs_service", "this")
        expect_eq([svc.attr("propagate_tags"), svc.attr("desired_count"), svc.attr("enable_execute_command")],
                  [up["service"]["propagate_tags"], var("gateway_count"), False], f"{label}: ECS service")
        self.v010_schema_valid(raw.replace("<aws_lb.this[0].dns_name>", "gw.elb.example.com"), label)
        return m, named, cfg

    def v010_gateways(self):
        base = {"ecs_cluster_arn": "arn:aws:ecs:us-east-1:1:cluster/c", "subnets": ["subnet-1"], "consul_server_hosts": "consul.internal",
                "enable_transparent_proxy": False}
        up = UPSTREAM_V010["gateway-task"]
        m, named, cfg = self.v010_gateway(dict(base, family="mgw", kind="mesh-gateway", consul_partition="part1", tls=True,
                                               enable_mesh_gateway_wan_federation=True, lb_enabled=True, lb_vpc_id="vpc-1",
                                               lb_subnets=["subnet-2"], acls=True, consul_ca_cert_arn="arn:ca"),
                                          "v0.10 mesh gateway (partition, WAN federation, NLB)")
        want = json.loads(json.dumps(up["example_gateway"]).replace("<nlb dns>", "<aws_lb.this[0].dns_name>"))
        want["healthCheckPort"] = 22000
        expect_eq(cfg["gateway"], want, "v0.10 mesh gateway: gateway block = upstream's render (+ healthCheckPort)")
        expect_eq(m.local_value("load_balancers"), [{"target_group_arn": "<aws_lb_target_group.this[0].arn>",
                                                     "container_name": "consul-dataplane", "container_port": 8443}],
                  "v0.10 mesh gateway: the ECS service's load balancer (the NLB's target group on the dataplane)")
        expect_eq(m.output("lb_security_group_id"), "<aws_security_group.this[0].id>", "v0.10 mesh gateway: security group output")
        _, named, _ = self.v010_gateway(dict(base, family="tgw", kind="terminating-gateway", envoy_readiness_port=22001,
                                             volumes=[{"name": "certs", "host_path": "/efs", "read_only": False,
                                                       "efs_volume_configuration": {"file_system_id": "fs-1", "transit_encryption": "ENABLED"}}]),
                                        "v0.10 terminating gateway (EFS volume, readiness port)")
        api, named, _ = self.v010_gateway(dict(base, family="api", kind="api-gateway", lb_create_security_group=False,
                                             custom_load_balancer_config=[{"target_group_arn": "arn:tg", "container_name": "consul-dataplane",
                                                                           "container_port": 8443}],
                                             extra_container_definitions=[{"name": "sidecar", "image": "busybox"}]),
                                        "v0.10 API gateway (custom load balancer, extra container)")
        expect_eq(api.local_value("load_balancers"), [{"target_group_arn": "arn:tg", "container_name": "consul-dataplane", "container_port": 8443}],
                  "v0.10 API gateway: custom_load_balancer_config on the ECS service")
        # Ours: without a load balancer the default lb_create_security_group = true plans
        # (upstream referenced a security group it never created).
        self.v010_gateway(dict(base, family="plain", kind="mesh-gateway"), "v0.10 gateway with the defaults")

    def v010_gateway_plan_rules(self):
        base = {"family": "gw", "kind": "mesh-gateway", "ecs_cluster_arn": "arn", "subnets": ["s"], "consul_server_hosts": "c",
                "enable_transparent_proxy": False}
        files = self.parsed.module_files(os.path.join(V010, "gateway-task"))
        msgs = {name: [r["error_message"] for r in block[0].get("validation", [])]
                for doc in files.values() for name, block in doc.get("variable", {}).items()}
        pre = [r["error_message"] for r in files["outputs.tf"]["output"]["task_definition_arn"][0]["precondition"]]
        lb = {"lb_enabled": True, "lb_vpc_id": "v", "lb_subnets": ["s"]}
        cases = [
            ({}, []), ({"kind": "ingress-gateway"}, msgs["kind"]),
            ({"enable_mesh_gateway_wan_federation": True}, [pre[0]]),
            (dict(lb, wan_address="w"), [pre[1]]), ({"lb_enabled": True, "lb_vpc_id": "v"}, [pre[2]]),
            ({"lb_enabled": True, "lb_subnets": ["s"]}, [pre[3]]),
            (dict(lb, lb_modify_security_group=True, lb_modify_security_group_id="sg"), [pre[4]]),
            ({"lb_create_security_group": False, "lb_modify_security_group": True}, [pre[5]]),
            (dict(lb, custom_load_balancer_config=[{"target_group_arn": "a", "container_name": "b", "container_port": 1}]), [pre[6]]),
            ({"enable_transparent_proxy": True}, [pre[7]]), ({"enable_transparent_proxy": True, "requires_compatibilities": ["EC2"]}, []),
            ({"enable_consul_dns": True}, [pre[8]]),
            ({"iam_role_path": "x/"}, msgs["iam_role_path"]), ({"envoy_readiness_port": 8600}, msgs["envoy_readiness_port"][1:]),
            ({"consul_ecs_config": {"service": {}}}, msgs["consul_ecs_config"][:1]),
            ({"consul_ecs_config": {"consulLogin": {"x": 1}}}, msgs["consul_ecs_config"][1:]),
            ({"http_config": {"x": 1}}, msgs["http_config"]), ({"grpc_config": {"x": 1}}, msgs["grpc_config"]),
        ]
        problems = []
        for change, want in cases:
            m = load_module(self.parsed, os.path.join(V010, "gateway-task"), dict(copy.deepcopy(base), **change), where="v0.10 gateway-task")
            got = m.validation_errors()
            if sorted(got) != sorted(want):
                problems.append(f"v0.10 gateway-task with {json.dumps(change)}: got {got}, want {want}")
        expect(not problems, "\n     ".join(problems))
        print(f"     {len(cases)} input sets, each failing with exactly its rule's message (or passing)")

    def v010_controller(self):
        up = UPSTREAM_V010["controller"]
        base = {"ecs_cluster_arn": "arn:aws:ecs:us-east-1:1:cluster/c", "region": "us-east-1", "subnets": ["s"], "name_prefix": "dc1",
                "consul_bootstrap_token_secret_arn": "arn:token"}
        cases = [(dict(base, **up["example_config_inputs"]), "v0.10 controller (defaults)"),
                 (dict(base, consul_server_hosts="consul.internal", tls=True, consul_partitions_enabled=True, consul_ca_cert_arn="arn:ca",
                       consul_https_ca_cert_arn="arn:https", iam_role_path="/teams/", http_config={"port": 443}), "v0.10 controller (TLS, partitions)")]
        for inputs, label in cases:
            m = load_module(self.parsed, os.path.join(V010, "controller"), inputs, where=label)
            expect_eq(m.validation_errors(), [], f"{label}: plan errors")
            var = m.var_value
            svc = resource_of(m, "aws_ecs_service", "this")
            expect_eq([svc.attr("name"), svc.attr("desired_count"), svc.attr("enable_execute_command")],
                      [up["service"]["name"], up["service"]["desired_count"], False], f"{label}: ECS service (README: no exec)")
            td = resource_of(m, "aws_ecs_task_definition", "this")
            expect_eq([td.attr("family"), td.attr("cpu"), td.attr("memory"), td.attr("network_mode")],
                      [up["task"]["family"].replace("<name_prefix>", var("name_prefix")), up["task"]["cpu"], up["task"]["memory"],
                       up["task"]["network_mode"]], f"{label}: task definition")
            containers = containers_of(m)
            expect_eq([c["name"] for c in containers], [up["container"]["name"]], f"{label}: containers")
            c, spec = containers[0], up["container"]
            expect_eq([c["image"], c["essential"], c["command"], c["readonlyRootFilesystem"], c["linuxParameters"]["initProcessEnabled"]],
                      [var("consul_ecs_image"), spec["essential"], spec["command"], spec["readonlyRootFilesystem"], spec["initProcessEnabled"]],
                      f"{label}: container")
            expect_eq(env_names(c), spec["environment"], f"{label}: environment")
            expect_eq(secret_names(c), [n for n in spec["secrets"] if n == "CONSUL_HTTP_TOKEN" or var("consul_ca_cert_arn")], f"{label}: secrets")
            raw = config_of(c)
            cfg = json.loads(raw)
            self.v010_schema_valid(raw, label)
            if "tls" not in inputs:
                expect_eq(cfg, up["example_config"], f"{label}: CONSUL_ECS_CONFIG_JSON = upstream's render")
            else:
                expect_eq([cfg["controller"], cfg["consulServers"]["http"], cfg["consulServers"]["grpc"]],
                          [{"iamRolePath": "/teams/", "partition": "default", "partitionsEnabled": True}, {"https": True, "port": 443}, {"port": 8503}],
                          f"{label}: controller and server ports")
            role = resource_of(m, "aws_iam_role", "task")
            expect_eq([role.attr("name"), role.attr("path")], [up["iam"]["task_role"]["name"].replace("<name_prefix>", var("name_prefix")),
                                                               "<aws_iam_role.task.path>"], f"{label}: task role (no path)")
            sts = policy_statements(m, "aws_iam_role_policy", "task")
            # Ours (README): only the two ECS actions, on the controller's cluster; no ssmmessages.
            expect_eq(sts, [{"Effect": "Allow", "Action": ["ecs:ListTasks", "ecs:DescribeTasks"], "Resource": ["*"],
                             "Condition": {"ArnEquals": {"ecs:cluster": var("ecs_cluster_arn")}}}], f"{label}: task role policy")
            expect(set(sts[0]["Action"]) <= set(up["iam"]["task_role"]["actions"]), f"{label}: actions beyond upstream's")
            exe = resource_of(m, "aws_iam_role", "execution")
            expect_eq([exe.attr("name"), exe.attr("path")], [up["iam"]["execution_role"]["name"].replace("<name_prefix>", var("name_prefix")),
                                                             up["iam"]["execution_role"]["path"]], f"{label}: execution role")
            check_trust(m, "task")
            check_trust(m, "execution")
            est = policy_statements(m, "aws_iam_policy", "execution")
            expect_eq(est[0], {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
                               "Resource": [s["valueFrom"] for s in c["secrets"]]}, f"{label}: execution role reads the injected secrets")
        help_text = subprocess.run([self.args.binary, "--help"], capture_output=True, text=True, timeout=30).stdout
        if re.search(r"^  controller ", help_text, re.M):
            proc = subprocess.run([self.args.binary, "controller", "--help"], capture_output=True, text=True, timeout=30)
            expect(proc.returncode == 0, f"consul-ecs rejects ['controller']: {proc.stderr.strip()}")
            print("     the binary accepts the controller's command line")
        else:
            print("     NOTE: this binary has no `controller` subcommand yet; the command line is checked against upstream's only")

    def v010_example(self):
        """The v0.10 example, evaluated down into its modules with terraform.tfvars.example."""
        tfvars = self.parsed.docs[os.path.join(EXAMPLE_V010, "terraform.tfvars.example")]
        ex = load_module(self.parsed, EXAMPLE_V010, tfvars, where="examples/dataplane-client-server")
        apps = ex.module_call("app")
        expect_eq(sorted(apps), ["client", "server"], "v0.10 example: mesh tasks")
        errors = ex.validation_errors() + [f"module.controller: {e}" for e in ex.module_call("controller").module.validation_errors()]
        errors += [f"module.app[{k}]: {e}" for k, call in apps.items() for e in call.module.validation_errors()]
        expect(not errors, f"the v0.10 example does not plan: {errors}")
        cfgs = {}
        for key, call in apps.items():
            _, named, cfg = self.v010_mesh_task(call.module.inputs, f"v0.10 example {key}")
            cfgs[key] = cfg
            expect_eq(cfg["healthSyncContainers"], [key], f"v0.10 example {key}: healthSyncContainers")
            expect_eq(cfg["consulLogin"], {"enabled": True, "method": "iam-ecs-service-token"}, f"v0.10 example {key}: login")
            svc = ex.resource("aws_ecs_service", "app")[key]
            expect_eq([svc.attr("propagate_tags"), svc.attr("task_definition")], ["TASK_DEFINITION", "<aws_ecs_task_definition.this.arn>"],
                      f"v0.10 example: aws_ecs_service.app[{key}]")
        expect_eq(cfgs["client"]["proxy"]["upstreams"], [{"destinationName": cfgs["server"]["service"]["name"], "localBindPort": 1234}],
                  "v0.10 example: the client's upstream is the server")
        ctrl = by_name(containers_of(ex.module_call("controller").module))["consul-ecs-controller"]
        cfg = json.loads(config_of(ctrl))
        expect_eq([cfg["consulServers"]["hosts"], cfg["consulServers"]["defaults"]["tls"]], [cfgs["client"]["consulServers"]["hosts"], True],
                  "v0.10 example: the controller talks to the same servers, with TLS")
        self.v010_schema_valid(config_of(ctrl), "v0.10 example controller")

    def v010_commands(self):
        """The consul-ecs command lines of the v0.10 tasks are accepted by the binary, and the
        dataplane's health check dials."""
        inputs = dict(UPSTREAM_V010["mesh-task"]["example_config_inputs"], application_shutdown_delay_seconds=3)
        named = by_name(containers_of(load_module(self.parsed, os.path.join(V010, "mesh-task"), inputs)))
        argvs = [named["consul-ecs-mesh-init"]["command"], named["consul-ecs-health-sync"]["command"],
                 named["consul-dataplane"]["entryPoint"][1:], named["app"]["entryPoint"][1:]]
        for argv in argvs:
            proc = subprocess.run([self.args.binary, *argv, "--help"], capture_output=True, text=True, timeout=30)
            expect(proc.returncode == 0, f"consul-ecs rejects {argv}: {proc.stderr.strip()}")
        hc = named["consul-dataplane"]["healthCheck"]["command"]
        expect_eq(hc[:2], ["/consul/consul-ecs", "net-dial"], "v0.10 dataplane health check")
        proc = subprocess.run([self.args.binary, "net-dial", "127.0.0.1:1"], capture_output=True, timeout=30)
        expect(proc.returncode == 2, f"net-dial to a closed port exited {proc.returncode}, not 2")

    # ---- 5. plan-time rules
    def plan_rules(self):
        mesh = {"family": "web", "port": 80, "retry_join": ["c"], "container_definitions": [{"name": "app", "image": "x"}]}
        gw = {"family": "gw", "ecs_cluster_arn": "arn", "kind": "mesh-gateway", "subnets": ["s"], "retry_join": ["c"]}
        ctrl = {"ecs_cluster_arn": "arn", "region": "r", "consul_bootstrap_token_secret_arn": "arn:t", "subnets": ["s"],
                "consul_server_http_addr": "https://c:8501", "name_prefix": "p"}
        mp, gp = UPSTREAM["mesh-task"]["plan_errors"], UPSTREAM["gateway-task"]["plan_errors"]
        mv = {k: v.get("validation", []) for k, v in UPSTREAM["mesh-task"]["variables"].items()}
        gv = {k: v.get("validation", []) for k, v in UPSTREAM["gateway-task"]["variables"].items()}
        cec = mv["consul_ecs_config"]
        cases = [
            ("mesh-task", mesh, {}, []),
            ("mesh-task", mesh, {"port": 0}, [mp["port_unless_outbound_only"]]),
            ("mesh-task", mesh, {"port": 0, "outbound_only": True}, []),
            ("mesh-task", mesh, {"tls": True}, [mp["ca_cert_if_tls"]]),
            ("mesh-task", mesh, {"acls": True}, [mp["http_addr_if_acls"]]),
            ("mesh-task", mesh, {"consul_partition": "p"}, [mp["namespace_with_partition"]]),
            ("mesh-task", mesh, {"consul_namespace": "n"}, [mp["partition_with_namespace"]]),
            ("mesh-task", mesh, {"create_task_role": False, "additional_task_role_policies": ["arn"]},
             [mp["no_additional_task_policies_for_passed_role"]]),
            ("mesh-task", mesh, {"create_execution_role": False, "additional_execution_role_policies": ["arn"]},
             [mp["no_additional_execution_policies_for_passed_role"]]),
            ("mesh-task", mesh, {"audit_logging": True}, [mp["acls_for_audit_logging"]]),
            ("mesh-task", mesh, {"consul_service_name": "Web"}, mv["consul_service_name"]),
            ("mesh-task", mesh, {"consul_service_name": "web-1"}, []),
            ("mesh-task", mesh, {"iam_role_path": "consul/"}, mv["iam_role_path"]),
            ("mesh-task", mesh, {"envoy_public_listener_port": 65536}, mv["envoy_public_listener_port"][:1]),
            ("mesh-task", mesh, {"envoy_public_listener_port": 19000}, mv["envoy_public_listener_port"][1:]),
            ("mesh-task", mesh, {"envoy_public_listener_port": 21000}, []),
            ("mesh-task", mesh, {"upstreams": [{"destinationName": "a"}]}, mv["upstreams"][:1]),
            ("mesh-task", mesh, {"upstreams": [{"destinationName": "a", "localBindPort": 1, "bogus": 1}]}, mv["upstreams"][1:]),
            ("mesh-task", mesh, {"checks": [{"checkId": "a", "script": "x"}]}, mv["checks"]),
            ("mesh-task", mesh, {"consul_ecs_config": {"gateway": {}}}, cec[0:1]),
            ("mesh-task", mesh, {"consul_ecs_config": {"service": {"name": "x"}}}, cec[1:2]),
            ("mesh-task", mesh, {"consul_ecs_config": {"proxy": {"upstreams": []}}}, cec[2:3]),
            ("mesh-task", mesh, {"consul_ecs_config": {"service": {"weights": {"critical": 1}}}}, cec[3:4]),
            ("mesh-task", mesh, {"consul_ecs_config": {"proxy": {"meshGateway": {"x": 1}}}}, cec[4:5]),
            ("mesh-task", mesh, {"consul_ecs_config": {"proxy": {"expose": {"x": 1}}}}, cec[5:6]),
            ("mesh-task", mesh, {"consul_ecs_config": {"proxy": {"expose": {"paths": [{"x": 1}]}}}}, cec[6:7]),
            ("mesh-task", mesh, {"consul_ecs_config": {"consulLogin": {"datacenter": "x"}}}, cec[7:8]),
            ("gateway-task", gw, {}, []),
            ("gateway-task", gw, {"kind": "ingress-gateway"}, gv["kind"]),
            ("gateway-task", gw, {"consul_namespace": "team"}, gv["consul_namespace"]),
            ("gateway-task", gw, {"consul_namespace": "default"}, []),
            ("gateway-task", gw, {"iam_role_path": "x"}, gv["iam_role_path"]),
            ("gateway-task", gw, {"consul_ecs_config": {"service": {}}}, gv["consul_ecs_config"][:1]),
            ("gateway-task", gw, {"consul_ecs_config": {"consulLogin": {"x": 1}}}, gv["consul_ecs_config"][1:]),
            ("gateway-task", gw, {"tls": True}, [gp["ca_cert_if_tls"]]),
            ("gateway-task", gw, {"acls": True}, [gp["http_addr_if_acls"]]),
            ("gateway-task", gw, {"audit_logging": True}, [gp["acls_for_audit_logging"]]),
            ("gateway-task", gw, {"enable_mesh_gateway_wan_federation": True}, [gp["tls_for_wan_federation"]]),
            ("gateway-task", gw, {"lb_enabled": True, "lb_vpc_id": "v", "lb_subnets": ["s"], "wan_address": "w"},
             [gp["wan_address_xor_lb_enabled"]]),
            ("gateway-task", gw, {"lb_enabled": True, "lb_vpc_id": "v"}, [gp["lb_subnets_for_lb"]]),
            ("gateway-task", gw, {"lb_enabled": True, "lb_subnets": ["s"]}, [gp["lb_vpc_for_lb"]]),
            ("gateway-task", gw, {"lb_modify_security_group": True, "lb_modify_security_group_id": "sg"},
             [gp["create_xor_modify_security_group"]]),
            ("gateway-task", gw, {"lb_create_security_group": False, "lb_modify_security_group": True},
             [gp["sg_id_for_modify"]]),
            ("acl-controller", ctrl, {}, []),
            ("mesh-task", {"family": "web", "port": 80, "container_definitions": []}, {}, ["The required variable 'retry_join' has no value"]),
        ]
        problems = []
        for module_name, base, change, want in cases:
            inputs = dict(copy.deepcopy(base), **change)
            m = load_module(self.parsed, os.path.join(MODULES, module_name), inputs, where=module_name)
            got = m.validation_errors()
            if sorted(got) != sorted(want):
                problems.append(f"{module_name} with {json.dumps(change)}: got {got}, want {want}")
        expect(not problems, "\n     ".join(problems))
        print(f"     {len(cases)} input sets, each failing with exactly upstream's messages (or passing)")

    # ---- 6. rendered templates
    def templates_render(self):
        combos = [
            {},
            {"acls": True, "consul_http_addr": "https://consul:8501"},
            {"acls": True, "consul_http_addr": "https://consul:8501", "tls": True, "consul_server_ca_cert_arn": "arn:ca",
             "consul_https_ca_cert_arn": "arn:https", "gossip_key_secret_arn": "arn:g", "consul_partition": "p",
             "consul_namespace": "n", "consul_primary_datacenter": "dc0", "enable_acl_token_replication": True,
             "audit_logging": True, "consul_agent_configuration": 'log_level = "DEBUG"\nui_config { enabled = false }'},
        ]
        hcl_files = []
        for i, combo in enumerate(combos):
            inputs = {"family": "web", "port": 80, "retry_join": ["10.0.0.1", "provider=aws tag_key=k tag_value=v"],
                      "container_definitions": [{"name": "app", "image": "x"}], **combo}
            m = load_module(self.parsed, os.path.join(MODULES, "mesh-task"), inputs, where=f"mesh-task (template {i})")
            expect_eq(m.validation_errors(), [], f"template combination {i}: plan errors")
            script = by_name(containers_of(m))["consul-client"]["command"][0]
            expect("\r" not in script, f"template combination {i}: carriage return in the script")
            self.sh_syntax(script, f"consul-client script, combination {i}")
            for marker, hcl in re.findall(r"<<(CONSUL_AGENT_\w+)\n(.*?)\n\1\n", script, re.S):
                expanded = re.sub(r"\$(\w+)", "sample-value", hcl)
                path = os.path.join(self.tmp, f"agent-{i}-{marker.lower()}.hcl")
                with open(path, "w", encoding="utf-8") as f:
                    f.write(expanded)
                hcl_files.append(path)
            if combo.get("acls"):
                expect("-token-sink-file /consul/client-token" in script and "chmod 0600 /consul/client-token" in script
                       and f"chown {SHARED_UID} /consul/client-token" in script,
                       f"template combination {i}: the client token is not written 0600")
                expect("-meta \"consul.hashicorp.com/task-id=$TASK_ID\"" in script, f"template combination {i}: login meta")
        expect(len(hcl_files) >= 4, f"found only {len(hcl_files)} agent configuration heredocs in the scripts")
        docs = self.parsed.run(hcl_files)
        for path in hcl_files:
            expect(docs[path].get("retry_join") == ["10.0.0.1", "provider=aws tag_key=k tag_value=v"] or "agent-extra" in path
                   or "consul_agent_extra" in path, f"{path}: retry_join did not render: {docs[path].get('retry_join')}")
        full = [d for p, d in docs.items() if p.endswith("-2-consul_agent_defaults.hcl")][0]
        for key in ("encrypt", "auto_encrypt", "acl", "partition", "primary_datacenter", "audit"):
            expect(key in full, f"agent defaults with every option: {key} is missing")
        print(f"     {len(combos)} scripts pass sh -n; {len(hcl_files)} agent configurations parse as HCL")

    # ---- 6b. the script, run against stub curl and consul
    def script_runs(self):
        inputs = {"family": "web", "port": 80, "retry_join": ["10.0.0.1"], "container_definitions": [{"name": "app", "image": "x"}],
                  "acls": True, "consul_http_addr": "https://consul:8501", "tls": True, "consul_server_ca_cert_arn": "arn:ca",
                  "consul_https_ca_cert_arn": "arn:https", "gossip_key_secret_arn": "arn:g",
                  "consul_agent_configuration": 'log_level = "DEBUG"'}
        m = load_module(self.parsed, os.path.join(MODULES, "mesh-task"), inputs, where="mesh-task (script run)")
        script = by_name(containers_of(m))["consul-client"]["command"][0]
        root = os.path.join(self.tmp, "script-run")
        for d in ("consul", "inject", "bin", "stubs"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        # The script's absolute paths, moved under the scratch directory.
        script = (script.replace("/bin/consul-inject/", f"{root}/inject/")
                  .replace("cp /bin/consul ", f"cp {root}/bin/consul ")
                  .replace("/consul/", f"{root}/consul/"))
        expect("/consul/" not in script.replace(f"{root}/consul/", "").replace("consul.hashicorp.com/", ""),
               "the script uses a /consul path the test did not redirect")
        with open(os.path.join(root, "bin", "consul"), "w") as f:
            f.write("the consul binary\n")
        stubs = {
            "curl": """#!/bin/sh
for a; do url=$a; done
case "$url" in
  */task) [ -n "$FAIL_TASK_METADATA" ] && exit 22
          echo '{"TaskARN":"arn:aws:ecs:eu-west-3:123456789012:task/my-cluster/0f3bca58e0f4486a95b04c1bd1d4be55"}' ;;
  *) echo '{"Networks":[{"IPv4Addresses":["10.1.2.3"]}]}' ;;
esac
""",
            "consul": """#!/bin/sh
echo "$*" >> "$STUB_LOG"
case "$1" in
  login) while [ $# -gt 0 ]; do [ "$1" = -token-sink-file ] && printf token-123 > "$2"; shift; done ;;
  acl) exit 0 ;;
  agent) exit 0 ;;
  *) exit 3 ;;
esac
""",
        }
        for name, body in stubs.items():
            path = os.path.join(root, "stubs", name)
            with open(path, "w") as f:
                f.write(body)
            os.chmod(path, 0o755)
        log = os.path.join(root, "consul.log")
        env = {"PATH": f"{root}/stubs:/usr/bin:/bin", "STUB_LOG": log, "ECS_CONTAINER_METADATA_URI_V4": "http://169.254.170.2/v4/x",
               "CONSUL_DATACENTER": "dc7", "CONSUL_CACERT_PEM": "server-ca", "CONSUL_HTTPS_CACERT_PEM": "https-ca",
               "CONSUL_GOSSIP_ENCRYPTION_KEY": "gossip-key"}
        proc = subprocess.run(["sh", "-ec", script], env=env, capture_output=True, text=True, timeout=60)
        expect(proc.returncode == 0, f"the consul-client script failed (exit {proc.returncode}): {proc.stdout}{proc.stderr}")
        calls = open(log).read().splitlines()
        expect_eq([c.split()[0] for c in calls], ["login", "acl", "agent"], "consul commands the script ran")
        login = calls[0]
        for part in ("-http-addr https://consul:8501", f"-ca-file {root}/consul/consul-https-ca-cert.pem", "-type aws-iam",
                     "-method iam-ecs-client-token", "-aws-region eu-west-3", "-aws-include-entity",
                     "-meta consul.hashicorp.com/task-id=0f3bca58e0f4486a95b04c1bd1d4be55",
                     "-meta consul.hashicorp.com/cluster=arn:aws:ecs:eu-west-3:123456789012:cluster/my-cluster"):
            expect(part in login, f"consul login lacks {part!r}: {login}")
        expect_eq(calls[2], f"agent -data-dir {root}/consul/data -config-file {root}/consul/agent-defaults.hcl "
                            f"-config-file {root}/consul/agent-extra.hcl", "consul agent arguments")
        expect_eq(open(os.path.join(root, "inject", "consul")).read(), "the consul binary\n", "the consul binary in the shared volume")
        mode = os.stat(os.path.join(root, "consul", "client-token")).st_mode & 0o777
        expect_eq(oct(mode), oct(0o600), "mode of the client token")
        for name, want in (("consul-ca-cert.pem", "server-ca\n"), ("consul-https-ca-cert.pem", "https-ca\n")):
            expect_eq(open(os.path.join(root, "consul", name)).read(), want, name)
        defaults = os.path.join(root, "consul", "agent-defaults.hcl")
        extra = os.path.join(root, "consul", "agent-extra.hcl")
        docs = self.parsed.run([defaults, extra])
        d = docs[defaults]
        expect_eq([d["datacenter"], d["advertise_addr"], d["encrypt"], d["acl"][0]["tokens"][0]["agent"], d["ca_file"]],
                  ["dc7", "10.1.2.3", "gossip-key", "token-123", f"{root}/consul/consul-ca-cert.pem"],
                  "agent defaults filled in by the shell")
        expect_eq(docs[extra], {"log_level": "DEBUG"}, "extra agent configuration")
        # A failed metadata request must stop the script before the agent starts.
        open(log, "w").close()
        proc = subprocess.run(["sh", "-ec", script], env=dict(env, FAIL_TASK_METADATA="1"), capture_output=True, text=True, timeout=60)
        expect(proc.returncode != 0, "the script went on after the task metadata request failed")
        expect_eq(open(log).read(), "", "consul commands run after a failed metadata request")
        print("     ran under sh with stub curl and consul: login, token 0600, agent configuration, agent arguments")

    # ---- 4b. the commands the modules give the binary
    def binary_accepts_commands(self):
        """Every consul-ecs command line the evaluated tasks contain is accepted by the binary
        (flags parsed with --help appended), and the health checks' net-dial really dials."""
        import socket

        ex = self.example()
        gw_inputs = {"family": "gw", "ecs_cluster_arn": "arn", "kind": "mesh-gateway", "subnets": ["s"], "retry_join": ["c"],
                     "acls": True, "consul_http_addr": "https://c:8501"}
        ctrl_inputs = {"ecs_cluster_arn": "arn", "region": "r", "consul_bootstrap_token_secret_arn": "arn:t", "subnets": ["s"],
                       "consul_server_http_addr": "https://c:8501", "name_prefix": "p", "consul_partitions_enabled": True,
                       "consul_partition": "part", "iam_role_path": "/teams/"}
        tasks = [(f"example {n}", containers_of(ex.module_call(n).module)) for n in ("client", "server", "acl_controller")]
        tasks.append(("gateway-task", containers_of(load_module(self.parsed, os.path.join(MODULES, "gateway-task"), gw_inputs))))
        tasks.append(("acl-controller with partitions",
                      containers_of(load_module(self.parsed, os.path.join(MODULES, "acl-controller"), ctrl_inputs))))
        images = {OUR_IMAGE}
        argvs, dials = [], []
        for label, containers in tasks:
            for c in containers:
                where = f"{label}: {c['name']}"
                if c["image"] in images and not c.get("entryPoint"):
                    argvs.append((where, c["command"]))  # the image's ENTRYPOINT is the binary
                ep = c.get("entryPoint") or []
                if ep[:1] == ["/consul/consul-ecs"]:
                    argvs.append((f"{where} entryPoint", ep[1:]))
                hc = (c.get("healthCheck") or {}).get("command") or []
                if hc[:2] == ["/consul/consul-ecs", "net-dial"]:
                    dials.append((where, hc[2:]))
        expect(len(argvs) >= 8 and len(dials) >= 3, f"too few consul-ecs commands found: {argvs} {dials}")
        seen = set()
        for where, argv in argvs:
            if tuple(argv) in seen:
                continue
            seen.add(tuple(argv))
            proc = subprocess.run([self.args.binary, *argv, "--help"], capture_output=True, text=True, timeout=30)
            expect(proc.returncode == 0, f"{where}: consul-ecs rejects {argv}: {proc.stderr.strip()}")
        proc = subprocess.run([self.args.binary, "acl-controller", "-no-such-flag", "--help"], capture_output=True, timeout=30)
        expect(proc.returncode != 0, "the binary accepted an unknown flag; this check would not notice a wrong one")
        for where, args in dials:
            expect(len(args) == 1 and re.fullmatch(r"127\.0\.0\.1:\d+", args[0]), f"{where}: net-dial arguments {args}")
            with socket.socket() as listener:
                listener.bind(("127.0.0.1", 0))
                listener.listen(1)
                port = listener.getsockname()[1]
                proc = subprocess.run([self.args.binary, "net-dial", f"127.0.0.1:{port}"], capture_output=True, timeout=30)
                expect(proc.returncode == 0, f"{where}: net-dial to a listening port exited {proc.returncode}")
            proc = subprocess.run([self.args.binary, "net-dial", f"127.0.0.1:{port}"], capture_output=True, timeout=30)
            expect(proc.returncode == 2, f"{where}: net-dial to a closed port exited {proc.returncode}, not 2")
        print(f"     {len(seen)} command lines accepted; {len(dials)} health checks dial as intended")

    # ---- the tools themselves
    def evaluator_semantics(self):
        """hcleval.py against what Terraform gives for the constructs the modules use."""
        scope = h.Scope({"var": {"n": 5, "s": "Web", "l": [{"name": "a", "x": 1}, {"name": "b"}], "m": {"b": 2, "a": 1},
                                 "null": None, "empty": []}})
        cases = [
            ('"${var.n}"', 5),                                   # a lone interpolation keeps its type
            ('"${var.n}s"', "5s"),
            ('"$${var.n}"', "${var.n}"),
            ('lower(var.s)', "web"),
            ('var.n > 3 && var.n != 4 ? "big" : "small"', "big"),
            ('[for x in var.l : x.name if contains(keys(x), "x")]', ["a"]),
            ('{for k, v in var.m : v => k}', {"1": "a", "2": "b"}),
            ('keys(var.m)', ["a", "b"]),
            ('merge(null, {a = 1}, {a = 2, b = 3})', {"a": 2, "b": 3}),
            ('lookup(var.m, "c", "d")', "d"),
            ('var.l[*].name', ["a", "b"]),
            ('flatten([[1], [[2]], 3])', [1, 2, 3]),
            ('reverse(["a", "b", "c"])', ["c", "b", "a"]),
            ('try(var.l[5].name, "none")', "none"),
            ('can(regex("^[a-z]+$", "Web"))', False),
            ('length(var.empty) == 0 ? null : var.empty[0]', None),  # the branch not taken may fail
            ('jsonencode({b = ["<x>"], a = 1.0})', '{"a":1,"b":["\\u003cx\\u003e"]}'),
            ('substr("/consul-ecs/", 0, 1) == "/"', True),
            ('!contains([8300, 19000], var.n)', True),
            ('"a%{ for x in [1, 2] ~}\n  ${x}\n%{ endfor ~}\nb"', "a1\n2\nb"),  # ~ strips every whitespace
        ]
        for src, want in cases:
            got = h.evaluate(h.parse_template(src[1:-1]) if src.startswith('"') else h.parse_expression(src), scope)
            expect(got == want and type(got) is type(want), f"hcleval: {src} gave {got!r}, Terraform gives {want!r}")
        for src, error in [('var.n && true', "not a bool"), ('var.l[2]', "out of range"), ('var.m.c', "no attribute"),
                           ('true ? "x" : {}', "inconsistent conditional"), ('nosuch(1)', "not known"),
                           ('file("ERROR: boom")', "no file exists at \"ERROR: boom\"")]:
            try:
                h.evaluate(h.parse_expression(src), scope)
            except h.HclError as e:
                expect(error in str(e), f"hcleval: {src} failed with {e}, expected {error!r}")
            else:
                raise Failure(f"hcleval: {src} evaluated, but Terraform rejects it ({error})")

    def checkov_skips_have_reasons(self):
        skips = []
        for path in tf_files():
            for n, line in enumerate(open(path, encoding="utf-8"), 1):
                if "checkov:skip" in line:
                    m = re.search(r"#\s*checkov:skip=(CKV2?_[A-Z0-9]+_\d+):(.*)", line)
                    where = f"{os.path.relpath(path, REPO)}:{n}"
                    expect(m and len(m.group(2).strip()) >= 20, f"{where}: a checkov suppression without a written reason")
                    skips.append(f"{m.group(1)} ({where})")
        print(f"     {len(skips)} suppression(s), each with its reason: {', '.join(skips)}")

    def layout(self):
        """What `terraform fmt` would change, approximately: tabs, trailing blanks, the final
        newline, and the alignment of "=" in runs of single-line attributes (a multi-line
        attribute ends a run and takes one space)."""

        def balance(s):
            s = re.sub(r'"(\\.|[^"\\])*"', '""', s)
            s = re.sub(r"#.*|//.*", "", s)
            return sum(s.count(c) for c in "([{") - sum(s.count(c) for c in ")]}")

        problems = []
        for path in tf_files():
            rel = os.path.relpath(path, REPO)
            text = open(path, encoding="utf-8").read()
            if not text.endswith("\n") or text.endswith("\n\n"):
                problems.append(f"{rel}: must end with exactly one newline")
            run, heredoc = [], None

            def flush():
                if run:
                    col = max(len(l[:l.index("=")].rstrip()) for _, l in run) + 1
                    problems.extend(f"{rel}:{n}: '=' not aligned with its neighbours" for n, l in run if l.index("=") != col)
                run.clear()

            for n, line in enumerate(text.split("\n"), 1):
                if "\t" in line or line != line.rstrip():
                    problems.append(f"{rel}:{n}: tab or trailing whitespace")
                if heredoc:
                    if line.strip() == heredoc:
                        heredoc = None
                    continue
                hd = re.search(r"<<-?(\w+)\s*$", line)
                m = re.match(r'^(\s*)("[^"]*"|[A-Za-z_][\w-]*)\s*=(?![=>])', line)
                if m and not line.lstrip().startswith("#"):
                    if run and re.match(r"\s*", run[0][1]).group(0) != m.group(1):
                        flush()
                    if balance(line) > 0 or hd:
                        flush()
                        if not re.match(r'^\s*("[^"]*"|[A-Za-z_][\w-]*) = ', line):
                            problems.append(f"{rel}:{n}: a multi-line attribute takes one space before '='")
                    else:
                        run.append((n, line))
                else:
                    flush()
                if hd:
                    heredoc = hd.group(1)
            flush()
        expect(not problems, "\n     ".join(problems))

    def run(self):
        self.check("hcleval evaluates as Terraform does (constructs the modules use)", self.evaluator_semantics)
        self.check("every checkov suppression carries a written reason", self.checkov_skips_have_reasons)
        if not self.check("every .tf parses with HashiCorp's HCL parser", self.parse_all):
            return self.finish()
        self.check("layout as terraform fmt would leave it (approximation: blanks, '=' alignment)", self.layout)
        for mod in ("mesh-task", "gateway-task", "acl-controller"):
            self.check(f"{mod}: variables match upstream v0.6.2", self.variables_match, mod)
        self.check("mesh-task: outputs match upstream", self.outputs_match, "mesh-task")
        self.check("gateway-task: outputs match upstream", self.outputs_match, "gateway-task")
        self.check("acl-controller: outputs (upstream has none; two added)", self.outputs_match, "acl-controller",
                   ("task_definition_arn", "task_role_arn"))
        self.check("mesh-task and gateway-task share one consul-client, mesh-init and health-sync", self.one_agent_for_both)
        self.check("roles and load balancer live in internal modules; moved blocks keep upstream's state", self.resources_moved)
        self.check("example: every module call plans (no validation error)", self.example_is_valid)
        self.check("example: client task = upstream layout + documented differences; config validates", self.example_client)
        self.check("example: server task = upstream layout + documented differences; config validates", self.example_server)
        self.check("example: acl-controller = upstream + documented differences", self.example_controller)
        self.check("the consul-ecs command lines of the tasks are accepted by the binary", self.binary_accepts_commands)
        self.check("mesh-task without ACLs or checks: no health-sync; config validates", self.mesh_minimal)
        self.check("mesh-task with passed role, partition, extras and app-entrypoint", self.mesh_enterprise)
        self.check("gateway-task with ACLs, TLS, WAN federation and a load balancer", self.gateway)
        self.check("plan-time rules fire with upstream's messages", self.plan_rules)
        self.check("v0.10 mesh-task: variables match upstream v0.10.0 (names, types, defaults)", self.variables_match,
                   "v0.10/mesh-task", UPSTREAM_V010["mesh-task"], False)
        self.check("v0.10 mesh-task: outputs match upstream", self.outputs_match, "v0.10/mesh-task", (), UPSTREAM_V010["mesh-task"])
        self.check("v0.10 mesh-task: upstream's rendered config exactly; layout, IAM, tags; schema-valid", self.v010_mesh_defaults)
        self.check("v0.10 mesh-task with transparent proxy, DNS, TLS, ACLs, partition, app-entrypoint", self.v010_mesh_full)
        self.check("v0.10 mesh-task: validations and preconditions fire", self.v010_mesh_plan_rules)
        self.check("v0.10 mesh-task: its consul-ecs command lines are accepted by the binary", self.v010_commands)
        self.check("v0.10 gateway-task: variables match upstream v0.10.0 (names, types, defaults)", self.variables_match,
                   "v0.10/gateway-task", UPSTREAM_V010["gateway-task"], False)
        self.check("v0.10 gateway-task: outputs match upstream", self.outputs_match, "v0.10/gateway-task", (), UPSTREAM_V010["gateway-task"])
        self.check("v0.10 gateway-task: mesh, terminating and API gateways; schema-valid configs", self.v010_gateways)
        self.check("v0.10 gateway-task: validations and preconditions fire", self.v010_gateway_plan_rules)
        self.check("v0.10 controller: variables match upstream v0.10.0 (names, types, defaults)", self.variables_match,
                   "v0.10/controller", UPSTREAM_V010["controller"], False)
        self.check("v0.10 controller: outputs (upstream has none; two added)", self.outputs_match, "v0.10/controller",
                   ("task_definition_arn", "task_role_arn"), UPSTREAM_V010["controller"])
        self.check("v0.10 controller: upstream's rendered config exactly, container, IAM; schema-valid", self.v010_controller)
        self.check("v0.10 example: every call plans; client and server as upstream's layout; configs schema-valid", self.v010_example)
        self.check("consul-client script and agent configuration render validly", self.templates_render)
        self.check("consul-client script runs: login, 0600 token, agent configuration, agent", self.script_runs)
        return self.finish()

    def finish(self):
        shutil.rmtree(self.tmp, ignore_errors=True)
        print(f"terraform-check: {len(self.passed)} passed, {len(self.failed)} failed")
        return 1 if self.failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--binary", default=os.path.join(REPO, "target", "debug", "consul-ecs"))
    ap.add_argument("--node", default="node")
    args = ap.parse_args()
    if not os.access(args.binary, os.X_OK):
        print(f"consul-ecs binary not found at {args.binary} (build it: cargo build --bin consul-ecs)")
        return 2
    return Runner(args).run()


if __name__ == "__main__":
    sys.exit(main())
