"""python -m harness.syscall_scan: the syscall scan command (harness/scan/syscalls.py)."""

import sys

from .scan.syscalls import main

if __name__ == "__main__":
    sys.exit(main())
