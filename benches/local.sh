#!/usr/bin/env bash
# Benchmark: the local lab (`fatelab up --local`) on this host.
#
#   bash benches/local.sh [ROUNDS]        (default 1 round of the LR comparison)
#
# 1. warm up → toy: `up --local` from an empty state dir with FATE's packages already in the
#    cache (installed first, not timed) until its toy job passed. Goal ≤ 60 s on 2 cores.
# 2. no-op `up`: a second `up --local` on the unchanged lab (median of 3). Goal ≤ 2 s.
# 3. LR: `fatelab test --job lr` (submit → success, as fatelab reports it), then the very DAG
#    that job ran — read back from the guest's FATE Flow — submitted again with plain HTTP
#    (curl, polled every second like FATE's own CLI) on the same lab, alternating per round.
#    Ratio fatelab ÷ plain HTTP. Goal ≤ 1.05. The tables are uploaded before (not timed).
# 4. Peak memory (RSS) of each party's process tree (its FATE Flow and the tasks it starts)
#    during fatelab's LR jobs, sampled every second.
#
# Needs python3, curl, rabbitmq-server and nginx (see `fatelab doctor --local`). Uses
# FATELAB_CACHE_DIR (default ~/.cache/fatelab) and ports from 29900; stops the lab at the end.
# FATELAB_BIN=path uses that fatelab instead of building the release one.
set -euo pipefail
rounds="${1:-1}"
base=29900
cd "$(dirname "$0")/.."
# FATELAB_BIN: a fatelab already built (its own time is a small part of what is measured).
if [ -n "${FATELAB_BIN:-}" ]; then
    bin=$FATELAB_BIN
else
    cargo build --release --quiet
    bin="$PWD/target/release/fatelab"
fi
state="$(mktemp -d)"
export FATELAB_STATE_DIR="$state"
run() { "$bin" "$@"; }
trap 'run down --yes >/dev/null 2>&1 || true; rm -rf "$state"' EXIT
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.1f}')"; }

echo "installing FATE's packages into the cache if they are not there (not timed)" >&2
run up --local --port-base "$base" --yes --until packages >/dev/null 2>&1

t0=$(now)
run up --local --port-base "$base" --yes --test toy 2>"$state/up.log"
warm=$(secs "$t0" "$(now)")
echo "warm up --local to a passed toy job: ${warm}s" >&2

noops=()
for _ in 1 2 3; do
    t0=$(now)
    run up --local --port-base "$base" --yes 2>"$state/noop.log"
    noops+=("$(secs "$t0" "$(now)")")
done
noop=$(printf '%s\n' "${noops[@]}" | sort -n | sed -n 2p)
echo "no-op up: ${noops[*]} s (median ${noop}s)" >&2

guest="http://127.0.0.1:$((base + 10))"
# Each party's process tree, sampled every second into peak.json while the LR jobs run.
python3 - "$state" "$base" >"$state/peak.json" <<'EOF' &
import json, os, sys, time
state, base = sys.argv[1], int(sys.argv[2])
rec = json.load(open(os.path.join(state, "lab.json")))
roots = {k.split("-")[1]: v["pid"] for k, v in rec["local"]["processes"].items() if k.startswith("fateflow-")}
peak = {p: 0 for p in roots}
def children():
    kids = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            ppid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        kids.setdefault(ppid, []).append(int(pid))
    return kids
def rss(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
stop = os.path.join(state, "stop-sampling")
while not os.path.exists(stop):
    kids = children()
    for party, root in roots.items():
        todo, total = [root], 0
        while todo:
            p = todo.pop()
            total += rss(p)
            todo.extend(kids.get(p, []))
        peak[party] = max(peak[party], total)
    time.sleep(1)
print(json.dumps(peak))
EOF
sampler=$!

# The tables first, so both kinds of run train only.
run test --job lr --output json >/dev/null 2>&1 || true

ours=()
theirs=()
for r in $(seq 1 "$rounds"); do
    out=$(run test --job lr --output json 2>/dev/null)
    job=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["job_id"])')
    ours+=("$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["jobs"][0]["timings"]["train_s"])')")
    # The same DAG, as the guest's FATE Flow keeps it, sent again with plain HTTP.
    curl -fsS "$guest/v2/job/query?job_id=$job&role=guest&party_id=9999" | python3 -c '
import json, sys
dag = json.load(sys.stdin)["data"][0]["dag"]
for k in ("model_id", "model_version"):
    dag["dag"]["conf"].pop(k, None)
print(json.dumps({"dag_schema": dag}))' >"$state/dag.json"
    t0=$(now)
    again=$(curl -fsS -H 'Content-Type: application/json' -d @"$state/dag.json" "$guest/v2/job/submit" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')
    while :; do
        s=$(curl -fsS "$guest/v2/job/query?job_id=$again&role=guest&party_id=9999" |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["data"][0]["status"])')
        case "$s" in success) break ;; failed|canceled|timeout) echo "the plain-HTTP job $again ended $s" >&2; exit 1 ;; esac
        sleep 1
    done
    theirs+=("$(secs "$t0" "$(now)")")
    echo "round $r: fatelab ${ours[-1]}s (job $job), plain HTTP ${theirs[-1]}s (job $again)" >&2
done
touch "$state/stop-sampling"
wait "$sampler"

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_ours=$(median "${ours[@]}")
m_theirs=$(median "${theirs[@]}")
python3 - "$warm" "$noop" "$m_ours" "$m_theirs" "$state/peak.json" <<'EOF'
import json, sys
warm, noop, ours, theirs = map(float, sys.argv[1:5])
peak = json.load(open(sys.argv[5]))
print(f"warm up --local → toy success: {warm:.1f} s (goal ≤ 60)")
print(f"no-op up --local:             {noop:.2f} s (goal ≤ 2)")
print(f"LR training, fatelab:         {ours:.1f} s; plain HTTP: {theirs:.1f} s; ratio {ours / theirs:.3f} (goal ≤ 1.05)")
for party, b in sorted(peak.items()):
    print(f"peak RSS of party {party}'s tree during LR: {b / 2**20:.0f} MiB")
EOF
