#!/usr/bin/env bash
# Make sure the OS programs the tests and `make local` run are installed.
# On Debian/Ubuntu as root they are installed with apt; elsewhere this stops
# with a message naming exactly what to install. Usage: os-deps.sh [extra...]
# where extra is "podman" for the compose test.
set -euo pipefail

# program alternatives (Debian name first, upstream name second) -> Debian package
declare -A PACKAGE_OF=(
  [prometheus]=prometheus [promtool]=prometheus
  [prometheus-alertmanager]=prometheus-alertmanager [amtool]=prometheus-alertmanager
  [prometheus-pushgateway]=prometheus-pushgateway
  [prometheus-node-exporter]=prometheus-node-exporter
  [chromium]=chromium [wrk]=wrk [valgrind]=valgrind
  [podman]=podman [debootstrap]=debootstrap
)
declare -A UPSTREAM_NAME=(
  [prometheus-alertmanager]=alertmanager
  [prometheus-pushgateway]=pushgateway
  [prometheus-node-exporter]=node_exporter
  [chromium]=chromium-browser
)
wanted=(prometheus promtool prometheus-alertmanager amtool prometheus-pushgateway prometheus-node-exporter chromium wrk valgrind)
if [ "${1:-}" = podman ]; then wanted=(podman debootstrap); fi

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
