"""The `tinyllm` command's entry point, which loads the command only once it is running.

Loading NumPy, the engine and the model takes about a third of a second. A Ctrl-C in that time
would stop Python inside an import, with a traceback; here it ends the command as a Ctrl-C
anywhere else does: one line on stderr, exit status 130 (128 + SIGINT). Nothing heavy is
imported before `main` runs (model/__init__.py loads the GPT only when it is asked for).
"""

import signal
import sys


def main(argv=None):
    """Load model/cli.py and run its `main(argv)`; returns the exit status."""
    try:
        from model import cli
    except KeyboardInterrupt:
        print("tinyllm: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    return cli.main(argv)
