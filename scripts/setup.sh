#!/usr/bin/env bash
# Installs everything needed to build and test OddJobs on Debian 12 (or a similar apt
# system):   sudo scripts/setup.sh
# The package list is scripts/packages.txt, shared with CI (.ci/run calls this script).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# One package a line; blank lines and "# comments" are allowed.
mapfile -t packages < <(sed -e 's/#.*//' -e 's/[[:space:]]//g' -e '/^$/d' "$here/packages.txt")

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [[ "$status" != installed ]]; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup: all ${#packages[@]} packages from scripts/packages.txt are installed"
    exit 0
fi

echo "setup: installing ${missing[*]}"
if ((EUID != 0)); then
    echo "setup: root is needed to install packages; run: sudo $0" >&2
    exit 1
fi

# Debian's postgresql package creates and starts a "main" cluster on port 5432. The tests
# never use it: each test process runs its own throwaway cluster on a free port.
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
