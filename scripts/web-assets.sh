#!/usr/bin/env bash
# Browser assets from the npm registry, pinned by backend/web/assets/package-lock.json: npm ci, then the
# files vendor.txt lists are copied to backend/web/static/vendor/, which the app serves itself (no CDN).
set -euo pipefail
cd "$(dirname "$0")/.."
ASSETS=backend/web/assets
VENDOR=backend/web/static/vendor

if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  else
    echo "error: npm is needed for the web assets (sudo apt-get install nodejs npm)" >&2
    exit 1
  fi
fi

npm ci --prefix "$ASSETS" --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p "$VENDOR"
grep -v '^\s*#' "$ASSETS/vendor.txt" | while read -r served source; do
  [ -n "$served" ] || continue
  cp "$ASSETS/node_modules/$source" "$VENDOR/$served"
done
# ReDoc shows its maker's logo from the maker's CDN; serve our own icon instead, so /redoc works offline.
sed -i 's#https://cdn.redoc.ly/redoc/logo-mini.svg#/static/favicon.svg#g' "$VENDOR/redoc.standalone.js"
touch "$VENDOR/.installed"
echo "web assets: $(ls "$VENDOR" | wc -l) files in $VENDOR"
