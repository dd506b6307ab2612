"""`python -m transformer_catalog.train ...` = `tcat train ...`, the entry point for torchrun."""

import sys

from ..cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
