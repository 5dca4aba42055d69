"""Load YAML into typed dataclasses, with errors that name the file and line.

The binder walks a dataclass's fields and type hints, so each config record is
declared once, as a dataclass, and validated from that declaration: unknown
keys, missing keys and wrong types are all reported with their location.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..core.errors import ConfigError
from ..core.textfile import read_text

T = TypeVar("T")


class Located(dict):
    """A mapping that remembers the line of each key and of itself."""

    line: int = 0
    key_lines: dict[str, int]


class LocatedList(list):
    line: int = 0
    item_lines: list[int]


class _Loader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):  # type: ignore[override]
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = getattr(key_node, "value", None)
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None,
                    None,
                    f"duplicate key '{key}' (first on line {seen[key]})",
                    key_node.start_mark,
                )
            seen[key] = line
        mapping = Located(super().construct_mapping(node, deep=True))
        mapping.line = node.start_mark.line + 1
        mapping.key_lines = {
            k.value: k.start_mark.line + 1 for k, _ in node.value if hasattr(k, "value")
        }
        return mapping

    def construct_sequence(self, node, deep=False):  # type: ignore[override]
        seq = LocatedList(super().construct_sequence(node, deep=True))
        seq.line = node.start_mark.line + 1
        seq.item_lines = [n.start_mark.line + 1 for n in node.value]
        return seq


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _Loader.construct_sequence)


def load_yaml(path: Path, text: str | None = None) -> Any:
    """Parse a YAML file (or its text, already read); a syntax error names its line."""
    text = read_text(path) if text is None else text
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise ConfigError(path, line, f"malformed YAML: {e.problem}") from None
    except yaml.YAMLError as e:
        raise ConfigError(path, None, f"malformed YAML: {e}") from None


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (list, tuple):
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(tp):
        return "a mapping"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a number"
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    return getattr(tp, "__name__", str(tp))


def bind(cls: type[T], data: Any, path: Path, where: str = "", line: int | None = None) -> T:
    """Build dataclass `cls` from parsed YAML `data`, validating as it goes."""
    return _convert(cls, data, path, where or "<top>", line or getattr(data, "line", None))


def _convert(tp: Any, value: Any, path: Path, key: str, line: int | None) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for alt in args:
            if alt is type(None):
                continue
            try:
                return _convert(alt, value, path, key, line)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(path, line, f"'{key}' must be {_type_name(tp)}")
        return _bind_dataclass(tp, value, path, key)
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(path, line, f"'{key}' must be a list, not {value!r}")
        lines = getattr(value, "item_lines", [line] * len(value))
        return [_convert(args[0], v, path, f"{key}[{i}]", lines[i]) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(path, line, f"'{key}' must be a mapping")
        klines = getattr(value, "key_lines", {})
        for k in value:
            if args[0] is str and not isinstance(k, str):
                raise ConfigError(
                    path,
                    klines.get(k, line),
                    f"'{key}': key {k!r} is read as {_type_name(type(k))}; a key here is a "
                    f'name: quote it ("{k}") or start it with a letter',
                )
        return {
            _convert(args[0], k, path, key, klines.get(k, line)): _convert(
                args[1], v, path, f"{key}.{k}", klines.get(k, line)
            )
            for k, v in value.items()
        }
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(path, line, f"'{key}' must be a finite number, not {value!r}")
    if tp is int and isinstance(value, str):
        try:
            return int(value, 0)
        except ValueError:
            pass
    if tp is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(path, line, f"'{key}' must be {_type_name(tp)}, not {value!r}")
    return value


def _bind_dataclass(cls: Any, data: dict, path: Path, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    # A field may take another YAML key (metadata "key"), e.g. `from` for `base`.
    fields = {f.metadata.get("key", f.name): f for f in dataclasses.fields(cls) if f.init}
    klines = getattr(data, "key_lines", {})
    prefix = "" if where == "<top>" else where + "."
    for k in data:
        if k not in fields:
            raise ConfigError(
                path,
                klines.get(k, getattr(data, "line", None)),
                f"unknown key '{prefix}{k}' (expected one of: {', '.join(fields)})",
            )
    kwargs = {}
    for key, f in fields.items():
        if key in data:
            kwargs[f.name] = _convert(hints[f.name], data[key], path, prefix + key, klines.get(key))
            _check_limits(f, kwargs[f.name], path, prefix + key, klines.get(key))
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(path, getattr(data, "line", None), f"missing key '{prefix}{key}'")
    return cls(**kwargs)


# A name that becomes a folder (target, cycle, candidate, selector): one path
# component, never "." or "..", nothing a shell or a file system reads otherwise.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_NAME = 64  # a folder name, with room for the paths built on it


def safe_name(name: object) -> bool:
    return (
        isinstance(name, str)
        and bool(_SAFE_NAME.fullmatch(name))
        and ".." not in name
        and len(name) <= MAX_NAME
    )


SAFE_NAME_RULE = (
    f"letters, digits, '_', '.' and '-', starting with a letter or digit, no '..', "
    f"at most {MAX_NAME} characters"
)


def _check_limits(f: dataclasses.Field, value: Any, path: Path, key: str, line: int | None) -> None:
    """Field metadata: "min" (value >= it), "above" (value > it), "choices", and
    "name" (a safe folder name)."""
    meta = f.metadata
    if meta.get("name") and not safe_name(value):
        raise ConfigError(
            path, line, f"'{key}' {value!r} becomes a folder name: use {SAFE_NAME_RULE}"
        )
    if value is None:
        return  # an optional field left empty
    if "min" in meta and value < meta["min"]:
        raise ConfigError(path, line, f"'{key}' must be at least {meta['min']}, not {value!r}")
    if "max" in meta and value > meta["max"]:
        raise ConfigError(path, line, f"'{key}' must be at most {meta['max']}, not {value!r}")
    if "above" in meta and value <= meta["above"]:
        raise ConfigError(
            path, line, f"'{key}' must be greater than {meta['above']}, not {value!r}"
        )
    if meta.get("nonempty") and not str(value).strip():
        raise ConfigError(path, line, f"'{key}' must not be empty")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(
            path,
            line,
            f"'{key}' must be one of {', '.join(map(str, meta['choices']))}, not {value!r}",
        )


def load(cls: type[T], path: Path) -> T:
    data = load_yaml(path)
    if data is None:
        raise ConfigError(path, None, "file is empty")
    return bind(cls, data, path)
