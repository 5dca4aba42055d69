"""How a cycle names a loss it accepts (accept_losses): the syntax, checked when
the cycles file is read; harness/boot/losses.py matches the entries."""

from __future__ import annotations

# The words an entry starts with, besides a path under /proc or /sys.
FILESYSTEM, DEVICE, SYSCALL = PREFIXES = ("filesystem ", "device ", "syscall ")


def check_accept_entry(entry: object) -> str | None:
    """Why an accept_losses entry can never name a loss (None: it can)."""
    if not isinstance(entry, str) or not entry.strip():
        return "an entry must be a non-empty string"
    if entry.startswith("/"):
        if "/../" in entry + "/" or "//" in entry:
            return f"{entry!r}: a path with '..' or '//' names nothing the census lists"
        return None
    if entry.startswith(PREFIXES) and entry.split(" ", 1)[1].strip():
        return None
    return (
        f"{entry!r}: name a path under /proc or /sys, or 'filesystem NAME', "
        "'device /dev/NODE' or 'syscall NAME'"
    )
