#!/usr/bin/env bash
# Headless Chromium for the browser tests (Debian package). Installs it when missing and we are root.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium is missing: install it (Debian: apt-get install chromium) for the browser tests" >&2
fi
