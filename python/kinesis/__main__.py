"""``python -m kinesis``: the command line (see :mod:`kinesis.cli`)."""

from __future__ import annotations

if __name__ == "__main__":
    import sys

    from kinesis.cli import main

    sys.exit(main())
