#!/usr/bin/env bash
# Install the system GMP headers (libgmp-dev) if they are missing; the C kernels link against it.
set -euo pipefail
if [ -f /usr/include/gmp.h ] || ls /usr/include/*/gmp.h >/dev/null 2>&1; then
  exit 0
fi
echo "libgmp-dev is missing: installing it with apt-get"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libgmp-dev
