#!/usr/bin/env bash
# An idempotent project setup script: run it as often as you like, the ports stay the same.
set -euo pipefail
DEVPORT=${DEVPORT:-devport}

web_port=$("$DEVPORT" claim web)
db_port=$("$DEVPORT" claim db)

# .env for docker compose and friends; other lines in it are kept.
"$DEVPORT" env --format dotenv --write .env

echo "web: http://127.0.0.1:${web_port}"
echo "db:  127.0.0.1:${db_port}"
