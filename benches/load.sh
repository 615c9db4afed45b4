#!/usr/bin/env bash
# Benchmark: `fatelab images load` against `docker load -i` on the same >= 1 GiB archive,
# alternating, with fatelab's peak RSS. Needs the Docker Engine and GNU time.
#
#   bash benches/load.sh [SIZE_MIB] [ROUNDS]     (defaults: 1100 MiB, 3 rounds)
#
# Prints each run, then the median wall times, their ratio (goal: fatelab within 10% of
# docker load) and fatelab's largest peak RSS (goal: under 64 MiB whatever the size).
set -euo pipefail
size_mib="${1:-1100}"
rounds="${2:-3}"
cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="$PWD/target/release/fatelab"
work="$(mktemp -d)"
trap 'docker rmi -f "$ref" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
ref="fatelab-bench/load:$$"

echo "building a ${size_mib} MiB image archive in $work" >&2
mkdir "$work/rootfs"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$work/rootfs/blob"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" blob
rm -rf "$work/rootfs"
docker import "$work/rootfs.tar" "$ref" >/dev/null
rm "$work/rootfs.tar"
docker save -o "$work/image.tar" "$ref"
echo "archive: $(du -m "$work/image.tar" | cut -f1) MiB" >&2

: >"$work/results"
for i in $(seq 1 "$rounds"); do
    for tool in fatelab docker; do
        if [ "$tool" = fatelab ]; then
            docker rmi -f "$ref" >/dev/null 2>&1 || true
            /usr/bin/time -f "fatelab %e %M" -o "$work/t" "$bin" images load "$work/image.tar" >/dev/null 2>&1
        else
            docker rmi -f "$ref" >/dev/null 2>&1 || true
            /usr/bin/time -f "docker %e %M" -o "$work/t" docker load -i "$work/image.tar" >/dev/null 2>&1
        fi
        cat "$work/t" | tee -a "$work/results" | awk -v r="$i" '{printf "round %s: %-8s %6.2f s  peak RSS %6.1f MiB\n", r, $1, $2, $3/1024}'
    done
done

median() { grep "^$1 " "$work/results" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
f="$(median fatelab)"; d="$(median docker)"
rss="$(grep '^fatelab ' "$work/results" | awk '{print $3}' | sort -n | tail -1)"
awk -v f="$f" -v d="$d" -v r="$rss" 'BEGIN {
    printf "median wall: fatelab %.2f s, docker load %.2f s, ratio %.3f\n", f, d, f/d;
    printf "fatelab peak RSS: %.1f MiB\n", r/1024 }'
