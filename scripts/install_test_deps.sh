#!/usr/bin/env bash
# What the tests need beyond Python packages: Debian's Chromium and ChromeDriver (the static site's
# browser tests) and a C++ compiler (torch.compile's inductor, for the compiled-decoding tests).
# `make test` fails on a skip that tests/conftest.py does not list, so these must be here.
set -uo pipefail
need=""
command -v chromium >/dev/null && command -v chromedriver >/dev/null || need="$need chromium chromium-driver"
command -v g++ >/dev/null || need="$need g++"
[ -z "$need" ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then SUDO="sudo"; else echo "note: not root; cannot install$need (their tests will skip)"; exit 0; fi
fi
$SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $need >/dev/null \
  || echo "note: could not install$need (their tests will skip)"
