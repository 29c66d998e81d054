#!/usr/bin/env bash
# Debian packages PilotShare runs against: Mosquitto, InfluxDB 1.x, PostgreSQL (and openssl for TLS);
# with --browser also Chromium and CJK fonts for the browser tests.
# Installs what is missing when run as root; otherwise says what to install. Then makes sure
# the machine's PostgreSQL answers on 127.0.0.1:5432 (tests create their own databases in it).
set -euo pipefail

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || missing+=(influxdb influxdb-client)
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql postgresql-contrib)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)   # scripts/broker-tls.sh
if [ "${1:-}" = "--browser" ]; then   # make test: the browser tests drive Debian's Chromium
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  [ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto | grep -q CJK || missing+=(fonts-noto-cjk)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian starts services on install where it can; PilotShare starts its own copies.
  else
    echo "warning: missing ${missing[*]}; install them (sudo apt-get install ${missing[*]})" >&2
  fi
fi

if command -v pg_isready >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432; then
  if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi
exit 0
