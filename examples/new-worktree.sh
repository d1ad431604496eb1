#!/usr/bin/env bash
# A new git worktree with ports of its own. Run it in the main checkout:
#   bash new-worktree.sh login     # ../shop-login on a new branch `login`, its .env written
set -euo pipefail
branch=$1
dir="../$(basename "$PWD")-$branch"

git worktree add "$dir" -b "$branch"
cd "$dir"
devport up --write-env .env
