#!/usr/bin/env bash
# Installs what FlowKV's build needs from Debian's packages, only what is missing.
# Idempotent: a second run installs nothing. Prints what it checks and what it installs.
set -euo pipefail

packages=(g++ cmake ninja-build pkg-config
          libboost-program-options-dev libeigen3-dev nlohmann-json3-dev
          libgtest-dev libgmock-dev libbenchmark-dev
          libopenmpi-dev openmpi-bin)
# Optional extras named on the command line, e.g. `tools/setup.sh clang libclang-rt-14-dev chromium`.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    :
  else
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing from Debian's packages: ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
