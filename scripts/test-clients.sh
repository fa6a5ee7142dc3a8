#!/usr/bin/env bash
# The Python clients the test suite checks Fathom against (a real Prometheus
# text parser, ...), pinned and hash-checked, in a venv cached under
# $FATHOM_CLIENTS_CACHE (default ~/.cache/fathom/test-clients). Prints the
# venv's python.
#
#   scripts/test-clients.sh
set -euo pipefail

CACHE=${FATHOM_CLIENTS_CACHE:-$HOME/.cache/fathom/test-clients}
VENV=$CACHE/venv
HERE=$(cd "$(dirname "$0")" && pwd)
REQS=$HERE/test-clients-requirements.txt
STAMP=$VENV/.installed-$(sha256sum "$REQS" | cut -c1-16)

if [ ! -f "$STAMP" ]; then
    # One installer at a time: test binaries run in parallel.
    mkdir -p "$CACHE"
    exec 9>"$CACHE/.lock"
    flock 9
    if [ ! -f "$STAMP" ]; then
        rm -rf "$VENV"
        python3 -m venv "$VENV" >&2
        "$VENV/bin/pip" install --quiet --require-hashes --no-deps -r "$REQS" >&2
        touch "$STAMP"
    fi
fi
echo "$VENV/bin/python"
