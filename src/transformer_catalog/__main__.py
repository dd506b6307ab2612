"""`python -m transformer_catalog ...` = `tcat ...`."""

import sys

from .cli import main

sys.exit(main())
