#!/usr/bin/env bash
# A new git worktree with ports of its own. Run it in the main checkout:
#   bash new-worktree.sh login            # ../shop-login on a new branch `login`, its .env written
#   bash new-worktree.sh feature/billing  # ../shop-feature-billing
set -euo pipefail
branch=${1:?usage: new-worktree.sh BRANCH}
dir="../$(basename "$PWD")-${branch//\//-}"

git worktree add "$dir" -b "$branch"
cd "$dir"
devport up --write .env
