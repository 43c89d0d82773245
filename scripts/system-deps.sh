#!/usr/bin/env bash
# Debian packages the tests run for real: redis-server, nginx (forward-auth), chromium (browser tests),
# h2load from nghttp2-client (the benchmark's load generator). Installed once when missing; a failure
# stops the suite loudly. Test helpers install the same packages on demand (test/support/debian.ts).
set -euo pipefail
need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v h2load >/dev/null 2>&1 || need+=(nghttp2-client)
# taskset pins h2load and the bench servers to a core each (util-linux, present wherever Debian is).
command -v taskset >/dev/null 2>&1 || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: missing ${need[*]} and not root: install them with apt-get" >&2
    exit 1
  fi
  echo "system-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Packages must not start services here (nginx would take port 80): the tests start their own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
