"""`python -m model ...` is the `tinyllm` command."""

import sys

from model.cli import main

sys.exit(main())
