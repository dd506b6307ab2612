#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver, for the browser tests of the static site. Without them
# (no root, no sudo) those tests skip with a reason; everything else still runs.
set -uo pipefail
command -v chromium >/dev/null && command -v chromedriver >/dev/null && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo"; else echo "note: not root; browser tests will be skipped"; exit 0; fi
fi
$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium chromium-driver >/dev/null \
  || echo "note: could not install chromium; browser tests will be skipped"
