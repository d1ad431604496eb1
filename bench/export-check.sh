#!/usr/bin/env bash
# export --all at 10,000, 20,000 and 100,000 claims, and check of 1,000 and 4,096 busy ports
# that one process holds among 10,000 sockets, for this build and (optionally) an older binary:
#
#   bash bench/export-check.sh                          # this checkout's release build
#   BEFORE=/path/to/old/devport bash bench/export-check.sh
#
# Writes bench/results/export.md and bench/results/check-busy.md. Few runs each (the machine is
# shared); not part of the tests. Listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release --locked -q
AFTER="$PWD/target/release/devport"
OUT="$PWD/bench/results"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/devport-export-check.XXXXXX)
HOLDER_PID=
cleanup() { [ -n "$HOLDER_PID" ] && kill "$HOLDER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export DEVPORT_CONFIG="$WORK/none.toml"
mkdir -p "$WORK/proj/.git"
PROJ=$(cd "$WORK/proj" && pwd -P)
# One `web` claim per project (as run.sh and scale.sh): each claim is its own project, the
# worst case for a pass over the claims per project.
for n in 10000 20000 100000; do
  python3 bench/gen-registry.py "$n" "$PROJ" "$WORK/reg-$n.json"
done
cd "$WORK/proj"
HF=(hyperfine --shell=none --style basic --runs "${RUNS:-3}")
"${HF[@]}" --export-markdown "$OUT/export.md" \
  -n 'export caddy --all (10,000 claims)' "$AFTER --registry $WORK/reg-10000.json export caddy --all" \
  -n 'export caddy --all (20,000 claims)' "$AFTER --registry $WORK/reg-20000.json export caddy --all" \
  -n 'export caddy --all (100,000 claims)' "$AFTER --registry $WORK/reg-100000.json export caddy --all"
# The quadratic export of older builds runs for minutes here: timed once each, with a limit.
once() { # NAME COMMAND...: one run, wall and CPU seconds, or "did not finish"
  local name=$1 start end; shift
  start=$(date +%s.%N)
  if /usr/bin/time -f "%U %S" -o "$WORK/cpu" timeout "${LIMIT:-120}" "$@" >/dev/null 2>&1 || [ $? -ne 124 ]; then
    end=$(date +%s.%N)
    echo "$name: $(echo "$end - $start" | bc) s wall, $(tail -1 "$WORK/cpu" | awk '{print $1 + $2}') s CPU (one run)"
  else
    echo "$name: did not finish within ${LIMIT:-120} s (stopped)"
  fi
}
if [ -n "${BEFORE:-}" ]; then
  for n in 10000 20000 100000; do
    once "before: export caddy --all ($n claims)" "$BEFORE" --registry "$WORK/reg-$n.json" export caddy --all
  done | tee "$OUT/export-before.txt"
fi

# One process listening on 10,000 loopback ports from 40000 on (a port another process holds is
# skipped), so each busy port's owner is that process, found among 10,000 socket fds.
python3 - "$WORK/holder.ready" <<'PY' &
import resource, socket, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
held = []
for port in range(40000, 65536):
    if len(held) == 10000:
        break
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
        held.append(s)
    except OSError:
        s.close()
with open(sys.argv[1], "w") as f:
    f.write(f"{len(held)} {held[0].getsockname()[1]} {held[-1].getsockname()[1]}\n")
time.sleep(3600)
PY
HOLDER_PID=$!
for _ in $(seq 100); do [ -s "$WORK/holder.ready" ] && break; sleep 0.2; done
echo "listener: $(cat "$WORK/holder.ready") (sockets, first port, last port)" | tee "$OUT/check-busy-holder.txt"
# check exits 1 (ports not usable): -i.
"${HF[@]}" -i --export-markdown "$OUT/check-busy.md" \
  -n 'check 40000-40999 (1,000 ports)' "$AFTER --registry $WORK/empty.json check 40000-40999" \
  -n 'check 40000-44095 (4,096 ports)' "$AFTER --registry $WORK/empty.json check 40000-44095" \
  -n 'audit' "$AFTER --registry $WORK/empty.json audit"
if [ -n "${BEFORE:-}" ]; then
  {
    once "before: check 40000-40999 (1,000 ports)" "$BEFORE" --registry "$WORK/empty.json" check 40000-40999
    once "before: check 40000-44095 (4,096 ports)" "$BEFORE" --registry "$WORK/empty.json" check 40000-44095
  } | tee "$OUT/check-busy-before.txt"
fi
