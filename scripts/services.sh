#!/usr/bin/env bash
# Local Mosquitto and InfluxDB for `make demo`, data and logs under .var/.
# Reuses a broker or database that already answers on the configured port.
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=$PWD/.var
MQTT_PORT=${PILOTSHARE_MQTT_PORT:-1883}
INFLUX_PORT=${PILOTSHARE_INFLUX_PORT:-8086}
mkdir -p "$VAR"/mosquitto "$VAR"/influxdb

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start() {
  if listening "$MQTT_PORT"; then
    echo "mosquitto: already answering on 127.0.0.1:$MQTT_PORT"
  else
    cat >"$VAR/mosquitto/mosquitto.conf" <<CONF
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $VAR/mosquitto/
max_queued_messages 100000
user $(id -un)
CONF
    /usr/sbin/mosquitto -d -c "$VAR/mosquitto/mosquitto.conf"
    echo "mosquitto: started on 127.0.0.1:$MQTT_PORT"
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
  pkill -f "mosquitto -d -c $VAR/mosquitto/mosquitto.conf" 2>/dev/null || true
  echo "stopped local services"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
