"""``python -m ragviz``: see :mod:`ragviz.cli`."""

import sys

from ragviz.cli import main

if __name__ == "__main__":
    sys.exit(main())
