#!/usr/bin/env bash
# Replays the examples of the README and docs/ against the real binary and prints the
# transcript (`$ command`, then its stdout and stderr), so the examples are copied from what
# devport really prints, never typed by hand:
#
#   cargo build --release && bash examples/readme-tour.sh > /tmp/tour.txt
#
# The demo lives in a private new folder (mktemp -d, removed at the end) with its own registry
# and config: the user's own registry is never touched. Its name is as long as `/tmp/demo`, and
# the transcript shows it as `/tmp/demo`, so tables keep their columns. Ports follow from the
# project and service names, so they are the same on every machine where they are free; times
# and pids differ. `audit` lists every listening socket of the machine: tests/cli/docs.rs runs
# the tour in a network namespace of its own, where the demo's socket is the only one.
set -uo pipefail
DEVPORT=${DEVPORT:-$(cd "$(dirname "$0")/.." && pwd)/target/release/devport}
DEMO=$(mktemp -d /tmp/XXXX) || exit 1
trap 'rm -rf "$DEMO"' EXIT
mkdir -p "$DEMO/src/shop/.git" "$DEMO/src/blog/.git" "$DEMO/src/old/.git" "$DEMO/bin"
ln -s "$DEVPORT" "$DEMO/bin/devport"
unset "${!DEVPORT_@}"
export PATH="$DEMO/bin:$PATH" DEVPORT_REGISTRY="$DEMO/registry.json" \
  DEVPORT_CONFIG="$DEMO/config.toml" NO_COLOR=1

# `run 'COMMAND'` prints the command as typed, then what it prints (stderr beside stdout).
run() {
  printf '$ %s\n' "$1"
  bash -c "$1" 2>&1
}

# `here 'COMMAND'` is `run` in the tour's own shell, which lives until the end: a lease follows
# its caller, as it follows your shell.
here() {
  printf '$ %s\n' "$1"
  eval "$1" 2>&1
}

tour() {
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; true' EXIT

cd "$DEMO/src/old" && devport claim web > /dev/null && cd / && rm -rf "$DEMO/src/old"

echo '### claim'
cd "$DEMO/src/shop"
run 'devport claim web'
run 'devport claim grpc --count 3'
run 'devport claim db --port 5432'
cd ../blog
run 'devport claim web'
run 'devport claim api --prefer 24000'
run 'devport claim x --port 5432; echo "exit $?"'
cd ../shop
run 'devport claim web --json'

echo '### release'
run 'devport claim tmp --count 3 > /dev/null; devport release tmp'
run 'devport release nothing-here'

echo '### list'
BLOG_WEB=$(cd ../blog && devport claim web)
(cd ../blog && exec python3 -c "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', $BLOG_WEB)); s.listen(); time.sleep(600)") &
SERVER=$!
sleep 0.5
run 'devport list'
run 'devport list --live'

echo '### check'
run 'devport check 2276'
run 'devport check 5173'
run "devport check $BLOG_WEB"

echo '### audit'
run 'devport audit'

echo '### env'
run 'devport env'
run 'devport env --format dotenv --write .env'

echo '### exec'
run "devport exec web -- sh -c 'echo \"serving on \$PORT\"'"

echo '### up'
cat > devport.toml <<'TOML'
name = "shop"

[services.web]
prefer = 3000

[services.db]
port = 5432

[services.grpc]
count = 3

[services.metrics]
proto = "udp"
env = "STATSD_PORT"

[env]
API_URL = "http://localhost:{port:web}"
DATABASE_URL = "postgres://app@localhost:{port:db}/{project}"
GRPC_BACKUP = "127.0.0.1:{port:grpc:2}"
TOML
run 'devport up'
run 'devport trust'
run 'devport up'
run 'devport up --format dotenv --write .env'

echo '### trust'
run 'devport trust --list'
printf '# edited\n' >> devport.toml
run 'devport env --format dotenv'

echo '### lease'
here 'devport lease --count 2 --pid $$'
here 'devport lease --ttl 10m --pid $$ --json'

echo '### gc and doctor'
run 'devport gc --dry-run'
run 'devport gc'
run 'devport doctor'
}

tour 2>&1 | sed "s#$DEMO#/tmp/demo#g"
