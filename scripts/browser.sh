#!/usr/bin/env bash
# The headless browser of the trace viewer's test and benchmark: Debian's
# Chromium and its ChromeDriver, installed from the distribution's packages
# when missing (as root, or through sudo). Prints the two paths.
#
#   scripts/browser.sh
set -euo pipefail

CHROMIUM=/usr/bin/chromium
DRIVER=/usr/bin/chromedriver

if [ ! -x "$CHROMIUM" ] || [ ! -x "$DRIVER" ]; then
    # One installer at a time: test binaries run in parallel.
    LOCK=${FATHOM_CLIENTS_CACHE:-$HOME/.cache/fathom/test-clients}/.browser.lock
    mkdir -p "$(dirname "$LOCK")"
    exec 9>"$LOCK"
    flock 9
    if [ ! -x "$CHROMIUM" ] || [ ! -x "$DRIVER" ]; then
        SUDO=
        if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq >&2
        $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >&2
    fi
fi
echo "$CHROMIUM"
echo "$DRIVER"
