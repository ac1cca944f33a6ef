#!/usr/bin/env bash
# copy-libs.sh ROOT FILE...: every shared library ldd lists for the FILEs on this machine
# (the dynamic loader too) into ROOT, at the same paths, so the FILEs run in an image made of
# ROOT on an empty base. For the images the tests build from this machine's files (no image
# can be pulled here); the shipped consul-ecs is static and needs none.
set -euo pipefail
root=${1:?usage: copy-libs.sh ROOT FILE...}
shift
for lib in $( { for f in "$@"; do ldd "$f" 2>/dev/null || true; done; } |
    grep -o '/[^ ]*' | sort -u); do
    [ -e "$root$lib" ] && continue
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
