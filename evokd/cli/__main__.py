"""`python -m evokd.cli`: the same as the `evokd` command."""

import sys

from evokd.cli import main

sys.exit(main())
