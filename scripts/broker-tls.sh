#!/usr/bin/env bash
# TLS for the demo broker: a self-signed CA, a server certificate it signed, and the listener block.
#
#   scripts/broker-tls.sh DIR [[ADDRESS:]PORT] [HOST...]      (defaults: 8883, localhost 127.0.0.1)
#
# Writes DIR/ca.crt (give it to every client: edge agents' mqtt.tls.ca_file), DIR/ca.key (keep it
# private), DIR/server.crt, DIR/server.key and DIR/listener.conf: `listener PORT` with the certificate
# settings. listener.conf followed by the fragment of `pilotshare mqtt credentials` is a whole TLS broker
# configuration (docs/security.md, "TLS"). Rerunning keeps the CA and issues a new server certificate.
set -euo pipefail
if [ $# -lt 1 ]; then echo "usage: $0 DIR [[ADDRESS:]PORT] [HOST...]" >&2; exit 2; fi
dir=$(mkdir -p "$1" && cd "$1" && pwd)
listen=${2:-8883}
port=${listen##*:}
address=""
[[ $listen == *:* ]] && address=" ${listen%:*}"
shift $(( $# >= 2 ? 2 : 1 ))
hosts=("$@")
[ ${#hosts[@]} -gt 0 ] || hosts=(localhost 127.0.0.1)

san=""
for h in "${hosts[@]}"; do
  if [[ $h =~ ^[0-9.]+$ || $h == *:* ]]; then san+="IP:$h,"; else san+="DNS:$h,"; fi
done
san=${san%,}

umask 077
if [ ! -f "$dir/ca.key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=PilotShare demo CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
fi
openssl req -newkey rsa:2048 -nodes -subj "/CN=${hosts[0]}" \
  -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$dir/server.ext"
openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
  -days 825 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
rm -f "$dir/server.csr" "$dir/server.ext"
chmod 644 "$dir/ca.crt" "$dir/server.crt"

cat >"$dir/listener.conf" <<CONF
listener $port$address
cafile $dir/ca.crt
certfile $dir/server.crt
keyfile $dir/server.key
tls_version tlsv1.2
CONF
echo "TLS for ${hosts[*]} on port $port: clients trust $dir/ca.crt; broker config starts with $dir/listener.conf"
