#!/usr/bin/env bash
# System packages the tests need: Debian's chromium for the browser tests.
# With --voice, also what scripts/make_voice.py needs to make the visitor screen's
# spoken prompts again (espeak-ng, opus-tools); the prompts ship made, so neither
# the tests nor a gate need them.
# Installs them without prompting when run as root (or with passwordless sudo);
# otherwise says what to install, and the browser tests skip with that reason.
set -euo pipefail

need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ "${1:-}" = "--voice" ]; then
    command -v espeak-ng >/dev/null 2>&1 || need+=(espeak-ng)
    command -v opusenc >/dev/null 2>&1 || need+=(opus-tools)
fi
[ ${#need[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    echo "system-deps: not root: install ${need[*]} (apt-get install ${need[*]}) to run the browser tests" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "system-deps: no apt-get: install ${need[*]} by hand to run the browser tests" >&2
    exit 0
fi
echo "system-deps: installing ${need[*]} from Debian's packages"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
