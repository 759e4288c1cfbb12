#!/usr/bin/env bash
# Installs the system packages the tests drive for real: redis-server, redis-cli (which creates
# the tests' Redis Cluster), Debian's Chromium and promtool.
# Idempotent; needs root (CI and the dev machines run as root). Skips what is already there.
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
[ -x /usr/bin/chromium ] || need+=(chromium)
# promtool checks and unit-tests deploy/prometheus/ (the package also ships a Prometheus
# server, which the tests never start).
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing system packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
