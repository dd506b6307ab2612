#!/usr/bin/env bash
# Real corpora from Debian packages (public domain Bible translations, read with pysword).
# Nothing is downloaded at run time; the test suite runs on the in-repo sample without these.
set -euo pipefail
PKGS="sword-text-kjv sword-text-sparv sword-text-web"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
