"""python -m harness.trace: the trace command (harness/trace/cli.py)."""

import sys

from .cli import main

sys.exit(main())
