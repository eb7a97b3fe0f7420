#!/bin/sh
# Prepare what bench/run.py needs that is not in the repository: debootstrap and hyperfine (Debian) and a
# minbase bookworm root filesystem built by it.  Idempotent: an existing rootfs is kept.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work="${BENCH_WORK:-$here/work}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
mkdir -p "$work"
if ! command -v debootstrap >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
if ! command -v hyperfine >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null  # bench/verify_probe.py --hyperfine
fi
if [ ! -f "$work/rootfs/.complete" ]; then
    rm -rf "$work/rootfs"
    debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1
    touch "$work/rootfs/.complete"
fi
echo "rootfs: $work/rootfs ($(du -sm "$work/rootfs" | cut -f1) MB)"
