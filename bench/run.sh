#!/usr/bin/env bash
# Benchmarks devport side by side with /bin/true, port-for, lsof and ss; writes the results
# to bench/results/ (markdown tables that BENCHMARKS.md quotes). Not part of the tests.
#
#   bash bench/run.sh            # needs hyperfine (apt-get install hyperfine), python3, lsof, ss
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { apt-get update -qq && apt-get install -y -qq hyperfine; }
cargo build --release --locked -q
DEVPORT="$PWD/target/release/devport"
OUT="$PWD/bench/results"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/devport-bench.XXXXXX)
LISTENER_PID=
cleanup() { [ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
export DEVPORT_CONFIG="$WORK/none.toml"
mkdir -p "$WORK/proj/.git"
PROJ=$(cd "$WORK/proj" && pwd -P)
HF=(hyperfine --shell=none --warmup 5 --min-runs 30 --style basic)

# Registries of 10, 1,000 and 10,000 claims (plus this project's `web`), written directly.
for n in 10 1000 10000; do
  python3 bench/gen-registry.py "$n" "$PROJ" "$WORK/reg-$n.json"
done

cd "$WORK/proj"
echo "== claim of an existing service"
"${HF[@]}" --export-markdown "$OUT/claim-existing.md" \
  -n '/bin/true' '/bin/true' \
  -n 'claim (10 claims)' "$DEVPORT --registry $WORK/reg-10.json claim web" \
  -n 'claim (1,000 claims)' "$DEVPORT --registry $WORK/reg-1000.json claim web" \
  -n 'claim (10,000 claims)' "$DEVPORT --registry $WORK/reg-10000.json claim web"

echo "== claim of a new service (the registry is reset before every run)"
"${HF[@]}" --export-markdown "$OUT/claim-new.md" \
  --prepare "cp $WORK/reg-10.json $WORK/w-10.json" -n 'new claim (10 claims)' "$DEVPORT --registry $WORK/w-10.json claim api" \
  --prepare "cp $WORK/reg-1000.json $WORK/w-1000.json" -n 'new claim (1,000 claims)' "$DEVPORT --registry $WORK/w-1000.json claim api" \
  --prepare "cp $WORK/reg-10000.json $WORK/w-10000.json" -n 'new claim (10,000 claims)' "$DEVPORT --registry $WORK/w-10000.json claim api"

echo "== port-for (PortStore with a temp config), new association each run"
python3 -m venv "$WORK/venv" >/dev/null
"$WORK/venv/bin/pip" install -q port-for
PORT_FOR="$WORK/venv/bin/python -c 'import sys,port_for;print(port_for.PortStore(sys.argv[1]).bind_port(sys.argv[2]))' $WORK/pf.conf api"
"${HF[@]}" --export-markdown "$OUT/port-for.md" \
  --prepare "rm -f $WORK/pf.conf" -n 'port-for NAME (new association)' "$PORT_FOR" \
  --prepare "rm -f $WORK/pf-devport.json" -n 'devport claim NAME (new claim)' "$DEVPORT --registry $WORK/pf-devport.json claim api"

echo "== list, check and audit against lsof and ss (a listener on the checked port)"
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(3600)' > "$WORK/listener.port" &
LISTENER_PID=$!
sleep 0.5
LPORT=$(cat "$WORK/listener.port")
"${HF[@]}" -i --export-markdown "$OUT/inspect.md" \
  -n 'devport list (1,000 claims)' "$DEVPORT --registry $WORK/reg-1000.json list" \
  -n "devport check PORT (owner lookup, 10 claims)" "$DEVPORT --registry $WORK/reg-10.json check $LPORT" \
  -n "devport check PORT (owner lookup, 1,000 claims)" "$DEVPORT --registry $WORK/reg-1000.json check $LPORT" \
  -n "lsof -nP -i :PORT" "lsof -nP -i :$LPORT" \
  -n 'devport audit (10 claims)' "$DEVPORT --registry $WORK/reg-10.json audit" \
  -n 'devport audit (1,000 claims)' "$DEVPORT --registry $WORK/reg-1000.json audit" \
  -n 'ss -tulnp' 'ss -tulnp'

kill "$LISTENER_PID"; wait "$LISTENER_PID" 2>/dev/null || true; LISTENER_PID=

echo "== 256 parallel claims of different services (wall time), and lost entries"
cat > "$WORK/parallel.sh" <<SH
#!/usr/bin/env bash
rm -f $WORK/par.json
for i in \$(seq 1 256); do $DEVPORT --registry $WORK/par.json claim "s\$i" > /dev/null & done
wait
SH
hyperfine --warmup 1 --runs 5 --style basic --export-markdown "$OUT/parallel.md" -n '256 parallel devport claims' "bash $WORK/parallel.sh"
python3 -c "import json;print('devport claims after 256 parallel: ', len(json.load(open('$WORK/par.json'))['claims']))" | tee "$OUT/parallel-lost.txt"
rm -f "$WORK/pf.conf"
for i in $(seq 1 64); do "$WORK/venv/bin/python" -c 'import sys,port_for;port_for.PortStore(sys.argv[1]).bind_port(sys.argv[2])' "$WORK/pf.conf" "app$i" 2>/dev/null & done
wait
echo "port-for associations after 64 parallel binds: $(grep -c '=' "$WORK/pf.conf" || true) of 64" | tee -a "$OUT/parallel-lost.txt"

echo "== machine"
{ echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"; echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($(nproc) cores)";
  echo "kernel: $(uname -r)"; echo "devport: $($DEVPORT --version)"; echo "hyperfine: $(hyperfine --version)"; } | tee "$OUT/machine.txt"
