#!/usr/bin/env bash
# A test suite that starts its own server: a leased port, so parallel runs never get the same
# one, and `devport wait`, so the tests start only once the server answers.
set -euo pipefail

read -r PORT < <(devport lease)          # this script's port until it exits
python3 -m http.server "$PORT" --bind 127.0.0.1 >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true' EXIT

devport wait "$PORT" --timeout 20s >&2   # prints who serves it

# The tests: here, one request.
python3 - "$PORT" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=5) as reply:
    assert reply.status == 200, reply.status
PY
echo "tests passed on port $PORT"
