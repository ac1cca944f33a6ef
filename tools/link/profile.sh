#!/bin/sh
# make hot-functions: runs the long-running commands of the static release binary under
# callgrind, in the worlds `make bench` builds for them (emulators, moto, the real Envoy), and
# writes the functions they ran to tools/link/hot-functions.txt for ordered-cc's next link.
#
# usage: tools/link/profile.sh <static consul-ecs> (linked by ordered-cc, so its map is beside it)
set -eu

binary=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
command -v valgrind >/dev/null || {
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}

# cargo hard-links the binary to deps/consul_ecs-<hash>, whose map ordered-cc kept.
map=
for m in "$(dirname "$binary")"/deps/consul_ecs-*.map; do
	if [ -e "$m" ] && [ "${m%.map}" -ef "$binary" ]; then map=$m; fi
done
if [ -z "$map" ]; then
	echo "profile.sh: no link map for $binary; build it with make release (ordered-cc keeps one)" >&2
	exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The bench harness clears the environment of what it runs, so the paths are written in.
cat >"$work/consul-ecs" <<SCRIPT
#!/bin/sh
exec valgrind -q --tool=callgrind --dump-instr=yes --compress-pos=no --compress-strings=no \
	--callgrind-out-file=$work/callgrind.\$1.%p "$binary" "\$@"
SCRIPT
chmod +x "$work/consul-ecs"

# Figures measured under valgrind mean nothing (and fail the guard): only the profiles count.
cargo build --release -q -p bench
"${CARGO_TARGET_DIR:-target}/release/bench" --binary "$work/consul-ecs" --out "$work/BENCHMARKS.md" \
	--runs 1 --stop-trials 1 --idle-secs 5 \
	--only app-entrypoint,envoy-entrypoint,health-sync,health-sync-dataplane,mesh-init,mesh-init-dataplane ||
	echo "profile.sh: the bench run failed (expected under valgrind); using the profiles it left"

python3 "$here/hot-functions.py" --map "$map" --out "$here/hot-functions.txt" \
	--group app-entrypoint "$work/callgrind.app-entrypoint.*" \
	--group envoy-entrypoint "$work/callgrind.envoy-entrypoint.*" \
	--group health-sync "$work/callgrind.health-sync.*" \
	--group mesh-init "$work/callgrind.mesh-init.*"
