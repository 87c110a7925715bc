#!/usr/bin/env bash
# Install what the service and its tests need on a fresh Debian machine (idempotent).
#   scripts/bootstrap.sh          Chromium, Redis and jemalloc from Debian, Python packages into .venv
#   scripts/bootstrap.sh --test   the same, plus PostgreSQL for the test suite, and @puppeteer/replay
#                                 (npm) whose parse() checks the recordings the import is tested on
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(chromium redis-server fonts-liberation jq libjemalloc2)
if [[ "${1:-}" == "--test" ]]; then
    packages+=(postgresql iproute2 util-linux)  # the multi-host tests: ip netns, unshare
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$package")
done
if (( ${#missing[@]} )); then
    sudo_cmd=""
    [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
    echo "installing Debian packages: ${missing[*]}"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
stamp=.venv/.installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    .venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
    touch "$stamp"
fi

if [[ "${1:-}" == "--test" ]]; then
    replay=.venv/recorder-replay
    if [[ ! -d $replay/node_modules/@puppeteer/replay ]]; then
        if ! command -v npm >/dev/null; then
            sudo_cmd=""
            [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
            DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq npm >/dev/null
        fi
        # its peers (puppeteer, lighthouse) are not needed to parse, and would fetch a browser
        npm install --prefix "$replay" --no-save --no-audit --no-fund --legacy-peer-deps \
            --ignore-scripts --loglevel=error @puppeteer/replay@3.1.3 >/dev/null
    fi
fi
