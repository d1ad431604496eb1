#!/usr/bin/env bash
# list, doctor and gc at 100,000 claims, for this build and (optionally) an older binary:
#
#   bash bench/scale.sh                          # this checkout's release build
#   BEFORE=/path/to/old/devport bash bench/scale.sh
#
# Writes bench/results/scale.md. Few runs each (the machine is shared); not part of the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release --locked -q
AFTER="$PWD/target/release/devport"
OUT="$PWD/bench/results"
N=${N:-100000}
WORK=$(mktemp -d /tmp/devport-scale.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export DEVPORT_CONFIG="$WORK/none.toml"
mkdir -p "$WORK/proj/.git"
# The same shape as run.sh: one `web` claim per project, ports spread over the default range
# (so many share a port: doctor reports them), folders that no longer exist (gc removes all).
python3 - "$N" "$WORK/reg.json" <<'PY'
import json, sys, datetime
n, path = int(sys.argv[1]), sys.argv[2]
now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
claims = [{"project": f"p{i}", "project_path": f"/tmp/devport-bench-projects/p{i}", "service": "web",
           "port": 10000 + (i * 2) % 20000, "count": 1, "proto": "tcp", "created": now, "last_used": now}
          for i in range(n)]
claims.sort(key=lambda c: c["port"])
with open(path, "w") as f:
    json.dump({"version": 1, "claims": claims, "leases": []}, f, indent=2)
    f.write("\n")
PY
cd "$WORK/proj"
HF=(hyperfine --shell=none --style basic -i)
cmds=(); gc=()
for which in ${BEFORE:+before} after; do
  bin=$AFTER; [ "$which" = before ] && bin=$BEFORE
  cmds+=(-n "$which: list" "$bin --registry $WORK/reg.json list")
  # The quadratic doctor of older builds runs for many minutes here: timed once, below.
  [ "$which" = after ] && cmds+=(-n "$which: doctor" "$bin --registry $WORK/reg.json doctor")
  cmds+=(-n "$which: gc --dry-run" "$bin --registry $WORK/reg.json gc --dry-run")
  gc+=(-n "$which: gc" "$bin --registry $WORK/w.json gc")
done
"${HF[@]}" --runs "${RUNS:-3}" --export-markdown "$OUT/scale.md" "${cmds[@]}"
# gc empties the registry: a fresh copy before every run (--prepare, not timed).
"${HF[@]}" --runs "${RUNS:-3}" --prepare "cp $WORK/reg.json $WORK/w.json" --export-markdown "$OUT/scale-gc.md" "${gc[@]}"
if [ -n "${BEFORE:-}" ]; then
  limit=${LIMIT:-120}
  start=$(date +%s.%N)
  if timeout "$limit" "$BEFORE" --registry "$WORK/reg.json" doctor >/dev/null; [ $? -eq 124 ]; then
    echo "before: doctor: did not finish within $limit s (stopped)" | tee "$OUT/scale-doctor-before.txt"
  else
    echo "before: doctor: $(echo "$(date +%s.%N) - $start" | bc) s (one run)" | tee "$OUT/scale-doctor-before.txt"
  fi
fi
