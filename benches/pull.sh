#!/usr/bin/env bash
# Benchmark: fatelab's pre-pull (`fatelab images pull`, the code `up` runs) of a release-shaped
# set of images against `docker pull` of the same images one after another, from the real
# registry on 127.0.0.1:5000 (`.ci/run` starts it), alternating, with fatelab's peak RSS.
# Needs the Docker Engine, GNU time and the registry.
#
#   bash benches/pull.sh [TOTAL_MIB] [ROUNDS]     (defaults: 400 MiB, 3 rounds)
#
# The set is v1.6.0's under a registry: the six party images and mariadb, sized like the real
# ones relative to each other (python largest). Prints each run, the median wall times, their
# ratio (fatelab ÷ serial docker pull; below 1 means the concurrent pre-pull is faster) and
# fatelab's largest peak RSS.
set -euo pipefail
total_mib="${1:-400}"
rounds="${2:-3}"
registry="${FATELAB_TEST_REGISTRY:-127.0.0.1:5000}"
cd "$(dirname "$0")/.."
if ! curl -fsS "http://$registry/v2/" >/dev/null; then
    echo "no registry answers on $registry: start it with" >&2
    echo "  REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=\$(mktemp -d) docker-registry serve .ci/registry.yml &" >&2
    exit 1
fi
cargo build --release --quiet
bin="$PWD/target/release/fatelab"
work="$(mktemp -d)"
prefix="$registry/fatelab-bench-$$"
# name:tag, then its share of the total in percent.
set_of_images=(
    "python:1.6.0-release 38"
    "eggroll:1.6.0-release 25"
    "client:1.6.0-release 15"
    "fateboard:1.6.0-release 10"
    "mysql:8 7"
    "mariadb:10 4"
    "fluentd:v1.12 1"
)
refs=()
for entry in "${set_of_images[@]}"; do refs+=("$prefix/${entry%% *}"); done
remove_local() { docker rmi -f "${refs[@]}" >/dev/null 2>&1 || true; }
trap 'remove_local; rm -rf "$work"' EXIT

echo "pushing ${#refs[@]} images (${total_mib} MiB in all) to $prefix" >&2
for entry in "${set_of_images[@]}"; do
    name="${entry%% *}"
    share="${entry##* }"
    mib=$(( total_mib * share / 100 ))
    [ "$mib" -ge 1 ] || mib=1
    mkdir -p "$work/rootfs"
    head -c "$((mib * 1024 * 1024))" /dev/urandom >"$work/rootfs/blob"
    tar -C "$work/rootfs" -cf "$work/rootfs.tar" blob
    rm -rf "$work/rootfs"
    docker import "$work/rootfs.tar" "$prefix/$name" >/dev/null
    rm "$work/rootfs.tar"
    docker push -q "$prefix/$name" >/dev/null
    echo "  $prefix/$name: $mib MiB" >&2
done

: >"$work/results"
for i in $(seq 1 "$rounds"); do
    for tool in fatelab docker; do
        remove_local
        if [ "$tool" = fatelab ]; then
            /usr/bin/time -f "fatelab %e %M" -o "$work/t" \
                "$bin" --state-dir "$work/state" images pull --release v1.6.0 --registry "$prefix" >/dev/null 2>&1
        else
            /usr/bin/time -f "docker %e %M" -o "$work/t" \
                sh -c 'for r in "$@"; do docker pull -q "$r" >/dev/null || exit 1; done' sh "${refs[@]}"
        fi
        for r in "${refs[@]}"; do
            docker image inspect "$r" >/dev/null 2>&1 || { echo "$tool did not pull $r" >&2; exit 1; }
        done
        tee -a "$work/results" <"$work/t" | awk -v r="$i" '{printf "round %s: %-8s %6.2f s  peak RSS %6.1f MiB\n", r, $1, $2, $3/1024}'
    done
done

median() { grep "^$1 " "$work/results" | awk '{print $2}' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
f="$(median fatelab)"; d="$(median docker)"
rss="$(grep '^fatelab ' "$work/results" | awk '{print $3}' | sort -n | tail -1)"
awk -v f="$f" -v d="$d" -v r="$rss" -v n="${#refs[@]}" 'BEGIN {
    printf "median wall for %d images: fatelab %.2f s, serial docker pull %.2f s, ratio %.3f\n", n, f, d, f/d;
    printf "fatelab peak RSS: %.1f MiB\n", r/1024 }'
