#!/usr/bin/env bash
# Install transformer-catalog and everything it needs into the current Python.
# torch goes first and pinned: left to a dependency resolver, pip would pull a newer CUDA build
# (several GB). On this machine kind 2.13.0 is a local CPU wheel; elsewhere any torch >= 2.4 works.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if ! $PY -c "import torch" 2>/dev/null; then
  $PY -m pip install -q torch==2.13.0 || $PY -m pip install -q "torch>=2.4"
fi
$PY -m pip install -q -e ".[test]"
