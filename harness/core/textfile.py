"""Reading a user's text file, with an error that names it."""

from __future__ import annotations

from pathlib import Path

from .errors import ConfigError


def read_text(path: Path) -> str:
    """A config file's text; a missing or non-UTF-8 file is a ConfigError."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except IsADirectoryError:
        raise ConfigError(path, None, "is a folder, not a file") from None
    except OSError as e:
        raise ConfigError(path, None, f"cannot read: {e.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(
            path, line, f"not UTF-8 text (byte {raw[e.start]:#04x}); save the file as UTF-8"
        ) from None
