#!/usr/bin/env bash
# Is there a container engine for `make test-compose`? Usage: container-engine.sh --check
#
# Exit 0 when a working Docker engine with the compose plugin is present, or
# when Podman is (or, as root on Debian/Ubuntu, has just been installed with
# apt: podman, runc, netavark, aardvark-dns, debootstrap; podman-compose comes
# from requirements-dev.txt). Otherwise print what to install and exit 1,
# except under CI (CI=true), where a missing engine is an error (exit 2): CI
# must run the compose test, never skip it silently.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" != --check ]; then
  echo "Usage: $0 --check" >&2
  exit 64
fi

# What the Podman run needs: Podman itself; runc (crun 1.8 refuses hosts with
# hybrid cgroups); netavark + aardvark-dns (service names resolve in the
# compose network); iptables (netavark runs it to set up every user-defined
# network: without it each container fails with "netavark: No such file or
# directory"); debootstrap (the local base image, no registry needed).
PODMAN_PACKAGES=(podman runc netavark aardvark-dns iptables debootstrap)
declare -A PROGRAM_OF=([podman]=podman [runc]=runc [netavark]=/usr/lib/podman/netavark
                       [aardvark-dns]=/usr/lib/podman/aardvark-dns [iptables]=/usr/sbin/iptables [debootstrap]=debootstrap)

docker_works() {
  command -v docker >/dev/null 2>&1 \
    && timeout 30 docker info >/dev/null 2>&1 \
    && timeout 30 docker compose version >/dev/null 2>&1
}

missing_podman_packages() {
  local package program
  for package in "${PODMAN_PACKAGES[@]}"; do
    program=${PROGRAM_OF[$package]}
    if [[ $program == /* ]]; then [ -x "$program" ] || echo "$package"
    else command -v "$program" >/dev/null 2>&1 || echo "$package"; fi
  done
}

fail() {
  echo "$1" >&2
  if [ "${CI:-}" = true ]; then
    echo "CI must run the compose test; failing instead of skipping it." >&2
    exit 2
  fi
  exit 1
}

if docker_works; then
  echo "container engine: docker ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
  exit 0
fi

mapfile -t missing < <(missing_podman_packages)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing for the compose test: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; then
      fail "Could not install ${missing[*]} with apt-get."
    fi
  else
    fail "No container engine for the compose test. Install Docker Engine with the compose plugin, or
Podman: sudo apt-get install --no-install-recommends ${PODMAN_PACKAGES[*]}"
  fi
fi

if [ ! -x .venv/bin/podman-compose ]; then
  fail "podman-compose is missing from .venv; run make venv (it is pinned in requirements-dev.txt)."
fi

# One throwaway container on a user-defined network, before any test runs: it
# exercises the runtime (runc), the network stack (netavark, which runs
# iptables) and our containers.conf, so a missing piece is named here. No
# image is needed: the root file system is /bin/true and the libraries it uses.
smoke_test_podman() {
  local root network output status library
  root=$(mktemp -d)
  network="ishop-engine-check-$$"
  mkdir -p "$root/bin" "$root/proc" "$root/sys" "$root/dev" "$root/etc" "$root/tmp"
  cp /bin/true "$root/bin/true"
  for library in $(ldd /bin/true | grep -o '/[^ ]*'); do
    mkdir -p "$root$(dirname "$library")"
    cp "$library" "$root$library"
  done
  export CONTAINERS_CONF="$PWD/deploy/podman/containers.conf"
  status=0
  output=$(podman network create "$network" 2>&1 >/dev/null \
           && timeout 60 podman run --rm --network "$network" --rootfs "$root" /bin/true 2>&1) || status=$?
  podman network rm -f "$network" >/dev/null 2>&1 || true
  rm -rf "$root"
  if [ $status -ne 0 ]; then
    fail "Podman cannot start a container on a user-defined network (exit $status):
$(printf '%s\n' "$output" | grep -v 'failed to connect to syslog' | tail -n 5)
Netavark needs iptables, the runtime needs runc: apt-get install --no-install-recommends ${PODMAN_PACKAGES[*]}"
  fi
}
smoke_test_podman
echo "container engine: podman ($(podman --version)), a container on a user-defined network starts"
