#!/usr/bin/env bash
# Local Mosquitto and InfluxDB for `make demo`, data and logs under .var/.
# Reuses a broker or database that already answers on the configured port.
#
# The broker runs as every PilotShare broker does: `listener` + the fragment of `pilotshare mqtt
# credentials` (accounts from the resource registry, ACL, no anonymous clients, durable settings;
# docs/security.md). Its accounts are written here from the registry as it is; `pilotshare demo` writes
# them again after seeding and makes the broker reload them (SIGHUP to the pid file below).
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=$PWD/.var
PILOTSHARE=${PILOTSHARE:-$PWD/.venv/bin/pilotshare}
MQTT_PORT=${PILOTSHARE_MQTT_PORT:-1883}
MQTT_CREDENTIALS=${PILOTSHARE_MQTT_CREDENTIALS:-$VAR/mqtt/credentials.json}
MQTT_DIR=$(dirname "$MQTT_CREDENTIALS")
MQTT_PID=$VAR/mosquitto/mosquitto.pid
INFLUX_PORT=${PILOTSHARE_INFLUX_PORT:-8086}
mkdir -p "$VAR"/mosquitto "$VAR"/influxdb

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if listening "$MQTT_PORT"; then
    if [ -f "$MQTT_PID" ] && kill -0 "$(cat "$MQTT_PID")" 2>/dev/null; then
      echo "mosquitto: already running on 127.0.0.1:$MQTT_PORT (pid $(cat "$MQTT_PID"))"
    else
      echo "mosquitto: a broker not started here answers on 127.0.0.1:$MQTT_PORT; the demo's processes" \
        "log in with the accounts in $MQTT_DIR, so it must load $MQTT_DIR/mosquitto.conf (docs/security.md)" >&2
    fi
  else
    "$PILOTSHARE" db upgrade >/dev/null
    "$PILOTSHARE" mqtt credentials --out "$MQTT_DIR"
    cat >"$VAR/mosquitto/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
log_dest file $VAR/mosquitto/mosquitto.log
log_type error
log_type warning
log_type notice
pid_file $MQTT_PID
user $(id -un)
include_dir $MQTT_DIR
CONF
    /usr/sbin/mosquitto -d -c "$VAR/mosquitto/mosquitto.conf"
    echo "mosquitto: started on 127.0.0.1:$MQTT_PORT, anonymous clients refused (log .var/mosquitto/mosquitto.log)"
  fi
  if listening "$INFLUX_PORT"; then
    echo "influxdb: already answering on 127.0.0.1:$INFLUX_PORT"
  else
    cat >"$VAR/influxdb/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$((INFLUX_PORT + 2))"
[meta]
  dir = "$VAR/influxdb/meta"
[data]
  dir = "$VAR/influxdb/data"
  wal-dir = "$VAR/influxdb/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  log-enabled = false
CONF
    nohup influxd -config "$VAR/influxdb/influxdb.conf" >"$VAR/influxdb/influxd.log" 2>&1 &
    echo $! >"$VAR/influxdb/influxd.pid"
    for _ in $(seq 1 30); do listening "$INFLUX_PORT" && break; sleep 0.5; done
    echo "influxdb: started on 127.0.0.1:$INFLUX_PORT (log .var/influxdb/influxd.log)"
  fi
}

stop() {
  [ -f "$VAR/influxdb/influxd.pid" ] && kill "$(cat "$VAR/influxdb/influxd.pid")" 2>/dev/null && rm -f "$VAR/influxdb/influxd.pid"
  [ -f "$MQTT_PID" ] && kill "$(cat "$MQTT_PID")" 2>/dev/null && rm -f "$MQTT_PID"
  echo "stopped local services"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
