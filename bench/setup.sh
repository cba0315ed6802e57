#!/usr/bin/env bash
# The bench's peers, installed where this machine allows; a peer that cannot be had
# is reported as missing in the results, never a failure here.
#   redis-benchmark: Debian's redis-tools (no redis-server in it), installed when root.
#   jayson: from npm into bench/node_modules/ (ignored), at the version package.json pins.
set -uo pipefail
cd "$(dirname "$0")"

if ! command -v redis-benchmark >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "bench: installing redis-tools for redis-benchmark"
        { apt-get update -q && DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -q --no-install-recommends redis-tools; } >/dev/null 2>&1 \
            || echo "bench: could not install redis-tools; the PING row will say so"
    else
        echo "bench: redis-benchmark not found (sudo apt-get install redis-tools gives it);" \
            "the PING row will say so"
    fi
fi

if command -v npm >/dev/null && command -v node >/dev/null; then
    if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
        echo "bench: installing jayson from npm into bench/node_modules/"
        npm ci --no-audit --no-fund --loglevel=error >/dev/null \
            || echo "bench: npm ci failed; the JSON-RPC row will say jayson is missing"
    fi
else
    echo "bench: Node.js/npm not found; the JSON-RPC row will say jayson is missing"
fi
exit 0
