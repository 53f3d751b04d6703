"""``python -m pgstatkit``: the command line (see :mod:`pgstatkit.cli`)."""

from __future__ import annotations

import sys

from pgstatkit.cli import main

if __name__ == "__main__":
    sys.exit(main())
