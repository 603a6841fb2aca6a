"""`python -m model ...` is the `tinyllm` command."""

import sys

from model.cli_entry import main

sys.exit(main())
