#!/usr/bin/env bash
# Installs the real peers the test suite talks to, when they are missing:
# an independent Modbus implementation (pymodbus), an MQTT broker, InfluxDB,
# Chromium for the browser tests, socat for serial-line tests, and promtool
# (Debian's prometheus package) to check the /metrics text.
set -euo pipefail

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
# CJK glyphs so the Traditional Chinese dashboard renders in browser tests and screenshots
[ -d /usr/share/fonts/opentype/noto ] || need+=(fonts-noto-cjk)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need+=(influxdb)
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
/usr/bin/python3 -c 'from pymodbus.client import ModbusTcpClient; from pymodbus.server import StartTcpServer' >/dev/null 2>&1 \
  || need+=(python3-pymodbus python3-serial python3-serial-asyncio)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup-peers: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# Debian starts the packaged services on install; the tests spawn their own
# instances on free ports (of Prometheus they use only promtool), so the
# system-wide ones are not needed.
for svc in mosquitto influxdb prometheus; do
  if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
done
echo "setup-peers: chromium, mosquitto, influxd, socat, pymodbus and promtool are present"
