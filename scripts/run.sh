#!/usr/bin/env bash
# Installs what is missing, migrates the database (SQLite in ./registry-data by default,
# or REGISTRY_DATABASE_URL) and serves the API on REGISTRY_HOST:REGISTRY_PORT (127.0.0.1:8000).
set -euo pipefail
source "$(dirname "$0")/bootstrap.sh"
cd "$ROOT"
registry db upgrade
exec registry serve "$@"
