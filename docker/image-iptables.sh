#!/usr/bin/env bash
# Lays Debian's iptables (the nf_tables backend) out under DEST for the consul-ecs image
# (docker/Dockerfile, `make image-only`): in the v0.10 layout mesh-init's transparent proxy
# step runs `iptables` once per rule (crates/tproxy, docs/protocols.md §10), and
# `iptables-save` reads the rules back when someone diagnoses a task. Only this machine's
# files are used (Debian's `iptables` package, which `make container-tools` installs):
#
#   usr/sbin/xtables-nft-multi   the program; iptables, iptables-save and iptables-restore
#                                are symlinks to it (it dispatches on its name)
#   usr/lib/x86_64-linux-gnu/xtables/libxt_*.so
#                                the extensions the rule set loads (EXTENSIONS below)
#   lib/…, lib64/ld-linux-…      every shared library `ldd` lists for the program and those
#                                extensions, and the dynamic loader, at the paths ldd gives
#
# Why nf_tables and not legacy: it is Debian's default (update-alternatives), and it takes no
# lock file (legacy iptables writes /run/xtables.lock), so it runs on the read-only root
# filesystem the task's containers have. A host whose kernel lacks nf_tables needs another
# image (mesh-init's -iptables names the program).
#
# Usage: image-iptables.sh DEST
set -euo pipefail

dest=${1:?usage: image-iptables.sh DEST}
program=/usr/sbin/xtables-nft-multi
xtables=/usr/lib/x86_64-linux-gnu/xtables
# The extensions crates/tproxy's rules load, found with LD_DEBUG=files on the whole rule set
# (every exclusion and Consul DNS) and iptables-save: `-p tcp … --dport` tcp, `-p udp` udp,
# `-m owner` owner, `-j REDIRECT` and `-j DNAT` (both links to libxt_NAT.so), chain jumps and
# RETURN standard. tests/container.rs applies a rule of each with the image's iptables, in a
# read-only container, and reads them back with its iptables-save.
EXTENSIONS=(standard tcp udp owner REDIRECT DNAT)

die() { echo "image-iptables.sh: $*" >&2; exit 1; }
[ -x "$program" ] || die "$program is missing: apt-get install iptables (make container-tools)"

rm -rf "$dest"
mkdir -p "$dest/usr/sbin" "$dest$xtables"
cp "$program" "$dest/usr/sbin/"
for name in iptables iptables-save iptables-restore; do
    ln -s xtables-nft-multi "$dest/usr/sbin/$name"
done

files=("$program")
for ext in "${EXTENSIONS[@]}"; do
    so=$xtables/libxt_$ext.so
    [ -e "$so" ] || die "$so is missing (Debian's iptables package ships it)"
    # The NAT targets are links to one library: keep the link, copy the library once.
    if [ -L "$so" ]; then
        target=$(readlink "$so")
        [ -e "$dest$xtables/$target" ] || cp "$xtables/$target" "$dest$xtables/$target"
        ln -s "$target" "$dest$xtables/libxt_$ext.so"
        files+=("$xtables/$target")
    else
        cp "$so" "$dest$xtables/"
        files+=("$so")
    fi
done

# Every library ldd resolves for those files (absolute paths: the loader included), copied
# to the same path. ldd names each NEEDED library with the path it resolved it to; a
# library it cannot find makes the image useless, so that is an error here.
ldd_out=$(for f in "${files[@]}"; do ldd "$f"; done)
if grep -q 'not found' <<<"$ldd_out"; then
    die "ldd cannot resolve every library: $(grep 'not found' <<<"$ldd_out" | sort -u | tr '\n' ' ')"
fi
for lib in $(grep -o '/[^ ]*' <<<"$ldd_out" | sort -u); do
    [ -e "$dest$lib" ] && continue
    mkdir -p "$dest$(dirname "$lib")"
    cp -L "$lib" "$dest$lib"
done
