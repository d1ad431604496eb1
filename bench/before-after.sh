#!/usr/bin/env bash
# Measures two devport binaries side by side on the claim paths (existing and new service), for
# the before/after rows of BENCHMARKS.md. Not part of the tests.
#
#   bash bench/before-after.sh OLD_BINARY NEW_BINARY   # needs hyperfine and python3
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$(realpath "$1")
NEW=$(realpath "$2")
OUT="$PWD/bench/results"
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/devport-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export DEVPORT_CONFIG="$WORK/none.toml"
mkdir -p "$WORK/proj/.git"
PROJ=$(cd "$WORK/proj" && pwd -P)
for n in 1000 10000; do
  python3 bench/gen-registry.py "$n" "$PROJ" "$WORK/reg-$n.json"
done
HF=(hyperfine --shell=none --warmup 5 --min-runs 40 --style basic)
cd "$WORK/proj"
"${HF[@]}" --export-markdown "$OUT/before-after-existing.md" \
  -n '/bin/true' '/bin/true' \
  -n 'before: claim (1,000 claims)' "$OLD --registry $WORK/reg-1000.json claim web" \
  -n 'after: claim (1,000 claims)' "$NEW --registry $WORK/reg-1000.json claim web" \
  -n 'before: claim (10,000 claims)' "$OLD --registry $WORK/reg-10000.json claim web" \
  -n 'after: claim (10,000 claims)' "$NEW --registry $WORK/reg-10000.json claim web"
"${HF[@]}" --export-markdown "$OUT/before-after-new.md" \
  --prepare "cp $WORK/reg-1000.json $WORK/w.json" -n 'before: new claim (1,000 claims)' "$OLD --registry $WORK/w.json claim api" \
  --prepare "cp $WORK/reg-1000.json $WORK/w.json" -n 'after: new claim (1,000 claims)' "$NEW --registry $WORK/w.json claim api" \
  --prepare "cp $WORK/reg-10000.json $WORK/w.json" -n 'before: new claim (10,000 claims)' "$OLD --registry $WORK/w.json claim api" \
  --prepare "cp $WORK/reg-10000.json $WORK/w.json" -n 'after: new claim (10,000 claims)' "$NEW --registry $WORK/w.json claim api"
