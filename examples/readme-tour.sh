#!/usr/bin/env bash
# Replays the README's "A tour of every command" against the real binary and prints the
# transcript (`$ command`, then its stdout and stderr), so the README's examples are copied from
# what devport really prints, never typed by hand:
#
#   cargo build --release && bash examples/readme-tour.sh > /tmp/tour.txt
#
# The demo lives in /tmp/demo (removed first), with its own registry and config: the user's own
# registry is never touched. Ports follow from the project and service names, so they are the
# same on every machine where they are free; times and pids differ.
set -uo pipefail
DEVPORT=${DEVPORT:-$(cd "$(dirname "$0")/.." && pwd)/target/release/devport}
DEMO=/tmp/demo
rm -rf "$DEMO"
mkdir -p "$DEMO/src/shop/.git" "$DEMO/src/blog/.git" "$DEMO/src/old/.git" "$DEMO/bin"
chmod 700 "$DEMO"
ln -s "$DEVPORT" "$DEMO/bin/devport"
export PATH="$DEMO/bin:$PATH" DEVPORT_REGISTRY="$DEMO/registry.json" \
  DEVPORT_CONFIG="$DEMO/config.toml" NO_COLOR=1
SERVER=
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; true' EXIT

# `run 'COMMAND'` prints the command as typed, then what it prints (stderr beside stdout).
run() {
  printf '$ %s\n' "$1"
  bash -c "$1" 2>&1
}

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
run 'devport up --format dotenv --write-env .env'

echo '### trust'
run 'devport trust --list'
printf '# edited\n' >> devport.toml
run 'devport env --format dotenv'

echo '### lease'
run 'devport lease --count 2'
run 'devport lease --ttl 10m --json'

echo '### gc and doctor'
run 'devport gc --dry-run'
run 'devport gc'
run 'devport doctor'
