#!/usr/bin/env bash
# Debian's chromium and chromedriver for the docs' browser test (tests/test_docs_site.py).
# Installs them with apt-get when missing and this user may; otherwise says what to do.
set -euo pipefail
if command -v "${CHROMIUM:-chromium}" >/dev/null && command -v "${CHROMEDRIVER:-chromedriver}" >/dev/null; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    echo "installed $(chromium --version)"
else
    echo "NOTE: the docs' browser test needs chromium and chromedriver:" >&2
    echo "      sudo apt-get install chromium chromium-driver   (Debian/Ubuntu)" >&2
fi
