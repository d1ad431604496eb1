#!/usr/bin/env bash
# Compares devport binaries built for different C libraries (or allocators) on `claim` of an
# existing service: instructions (valgrind --tool=callgrind, repeatable) and wall-clock
# (hyperfine, noisy on a busy machine: read the minimum). For BENCHMARKS.md. Not part of the tests.
#
#   bash bench/libc.sh NAME=BINARY...   # e.g. glibc=target/release/devport \
#                                       #      musl=target/x86_64-unknown-linux-musl/release/devport
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d /tmp/devport-bench.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export DEVPORT_CONFIG="$WORK/none.toml"
mkdir -p "$WORK/proj/.git"
PROJ=$(cd "$WORK/proj" && pwd -P)
for n in 10 1000 10000; do
  python3 bench/gen-registry.py "$n" "$PROJ" "$WORK/reg-$n.json"
done
cd "$WORK/proj"
instructions() { valgrind --tool=callgrind --callgrind-out-file="$WORK/cg.out" "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : //p'; }
echo "| binary | --version | claim (10 claims) | claim (1,000 claims) | claim (10,000 claims) |"
echo "|---|---:|---:|---:|---:|"
cmds=(-n /bin/true /bin/true)
for arg in "$@"; do
  name=${arg%%=*} bin=$(realpath "${arg#*=}")
  echo "| $name | $(instructions "$bin" --version) | $(instructions "$bin" --registry "$WORK/reg-10.json" claim web) |" \
    "$(instructions "$bin" --registry "$WORK/reg-1000.json" claim web) | $(instructions "$bin" --registry "$WORK/reg-10000.json" claim web) |"
  cmds+=(-n "$name: claim (1,000 claims)" "$bin --registry $WORK/reg-1000.json claim web")
done
hyperfine -N --warmup 50 --runs "${RUNS:-700}" --style basic "${cmds[@]}"
