"""`python -m transformer_catalog.cli ...` = `tcat ...`."""

import sys

from . import main

sys.exit(main())
