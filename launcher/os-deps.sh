#!/usr/bin/env bash
# Make sure the programs the tests and `make local` run are installed.
# Prometheus, promtool, Alertmanager, amtool, the Pushgateway, node_exporter and
# blackbox_exporter are built from their Go modules at the versions .env pins
# (launcher/upstream.py, cached outside the repository; minutes the first time,
# under a second after). Debian's packages of those are only a fallback for a
# program whose build failed (upstream.py says which, loudly). The other OS
# programs come from apt on Debian/Ubuntu as root; elsewhere this stops with a
# message naming exactly what to install. Usage: os-deps.sh [extra...] where
# extra is "podman" for the compose test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Zipkin, the trace backend, runs from its server jar at the version .env pins, downloaded from Maven
# Central into the same cache and checked against a pinned sha256 (launcher/upstream_jar.py; once, a
# cache hit is instant); it needs a Java runtime (17 or newer), from the OS packages.
# program alternatives (Debian name first, upstream name second) -> Debian package
declare -A PACKAGE_OF=(
  [prometheus]=prometheus [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager
  [prometheus-pushgateway]=prometheus-pushgateway
  [prometheus-node-exporter]=prometheus-node-exporter
  [prometheus-blackbox-exporter]=prometheus-blackbox-exporter
  [chromium]=chromium [wrk]=wrk [valgrind]=valgrind
  [podman]=podman [debootstrap]=debootstrap
  [java]=default-jre-headless
)
declare -A UPSTREAM_NAME=(
  [prometheus-alertmanager]=alertmanager
  [prometheus-pushgateway]=pushgateway
  [prometheus-node-exporter]=node_exporter
  [prometheus-blackbox-exporter]=blackbox_exporter
  [chromium]=chromium-browser
)
# upstream program name (launcher/upstream.py) -> the Debian program that stands in for it
declare -A DEBIAN_NAME=(
  [prometheus]=prometheus [promtool]=promtool [alertmanager]=prometheus-alertmanager [amtool]=amtool
  [pushgateway]=prometheus-pushgateway [node_exporter]=prometheus-node-exporter
  [blackbox_exporter]=prometheus-blackbox-exporter
)
wanted=(chromium wrk valgrind java)
if [ "${1:-}" = podman ]; then
  wanted=(podman debootstrap)
else
  python3 -m launcher.upstream
  # no OS package stands in for Zipkin: a failed download is said loudly, and the stack names it at start
  python3 -m launcher.upstream_jar || true
  # only what could not be built at its pinned version falls back to the OS package
  while read -r program; do
    if [ -n "$program" ]; then wanted+=("${DEBIAN_NAME[$program]}"); fi
  done < <(python3 -m launcher.upstream --missing)
fi

missing_packages=()
for program in "${wanted[@]}"; do
  if command -v "$program" >/dev/null 2>&1; then continue; fi
  alt=${UPSTREAM_NAME[$program]:-}
  if [ -n "$alt" ] && command -v "$alt" >/dev/null 2>&1; then continue; fi
  missing_packages+=("${PACKAGE_OF[$program]}")
done
[ ${#missing_packages[@]} -eq 0 ] && exit 0
mapfile -t missing_packages < <(printf '%s\n' "${missing_packages[@]}" | sort -u)

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing OS packages: ${missing_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing_packages[@]}" >/dev/null
  exit 0
fi
echo "Missing OS programs. Install these packages (Debian/Ubuntu names): ${missing_packages[*]}" >&2
echo "For example: sudo apt-get install --no-install-recommends ${missing_packages[*]}" >&2
exit 1
