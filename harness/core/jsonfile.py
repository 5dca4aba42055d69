"""The JSON files kqual writes: each led by its schema, so a reader knows what it holds.

Every file carries `"schema": "kqual.<kind>/<version>"`; a reader that
finds another kind or version treats the file as absent (a cache refills, a
record of an older kqual counts as another run's).
"""

from __future__ import annotations

import json
from typing import Any

VERSION = 1


def schema(kind: str) -> str:
    return f"kqual.{kind}/{VERSION}"


def dumps(kind: str, data: dict[str, Any], indent: int | None = 1, sort_keys: bool = False) -> str:
    """The file's text: its schema, then `data` (which must not carry one)."""
    return json.dumps({"schema": schema(kind), **data}, indent=indent, sort_keys=sort_keys) + "\n"


def loads(kind: str, text: str) -> dict[str, Any] | None:
    """The file's data without its schema; None when it is not JSON of this kind."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.pop("schema", None) != schema(kind):
        return None
    return data
