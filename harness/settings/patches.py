"""A folder of patches as a quilt-style series: the order comes from its `series`
file (one patch name per line, '#' comments), or from sorted *.patch names. A
single patch file is a series of one.

A series line may mark its patch optional with what it gives kqual
(`0002-text-order-include.patch provides=text_order`): a user's tree it does
not apply to is still qualified, with the patch named and what is lost said.
A patch without `provides=` must apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import ConfigError
from ..core.textfile import read_text

# What kqual does without each optional patch's feature.
FEATURES = {
    "pruned_notice": "pruned syscall entries point at sys_ni_syscall: a pruned call "
    "returns ENOSYS without a notice, and the trace and the reachable scan are the "
    "only tripwire",
    "text_order": "no text-order include in the linker script: the order candidates "
    "(pgo's order-*) are skipped",
    "user_fault_signal": "a user program's fault stops this kernel instead of "
    "signalling the program: the fault probe is not run",
    "unwinder_none": "no UNWINDER_NONE choice for Thumb-2: the size search does not try "
    "dropping the unwinder and its .ARM.exidx/.ARM.extab tables",
    "crypto_lib_selftests": "no CRYPTO_LIB_SELFTESTS option: without the crypto API the "
    "crypto library's boot-time self-tests and their vectors stay in the image",
}


@dataclass(frozen=True)
class SeriesEntry:
    path: Path
    provides: str | None = None  # an optional patch's feature (FEATURES)


def series(folder: Path) -> list[Path]:
    """The patches in order (see read_series)."""
    return [e.path for e in read_series(folder)]


def read_series(folder: Path) -> list[SeriesEntry]:
    """The patches in order. A folder that yields none is an error: a patch folder
    that applies nothing must not pass for one that applies our patches."""
    if folder.is_file():
        return [SeriesEntry(folder)]
    if not folder.is_dir():
        return []
    listing = folder / "series"
    if not listing.exists():
        found = sorted(p for p in folder.glob("*.patch") if p.is_file())
        if not found:
            raise ConfigError(
                folder, None, "holds no 'series' file and no *.patch: no patch would apply"
            )
        return [SeriesEntry(p) for p in found]
    if not listing.is_file():
        raise ConfigError(listing, None, "is a folder: the series is a file of patch names")
    out: list[SeriesEntry] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(read_text(listing).splitlines(), 1):
        words = raw.split("#", 1)[0].split()
        if not words:
            continue
        name, provides = words[0], _provides(listing, n, words[1:])
        p = folder / name
        if "/" in name or name in (".", ".."):
            raise ConfigError(listing, n, f"'{name}' is not a patch file name in {folder}")
        if name in seen:
            raise ConfigError(
                listing, n, f"patch '{name}' is listed twice (first on line {seen[name]})"
            )
        if not p.is_file():
            what = "is a folder" if p.is_dir() else "does not exist"
            raise ConfigError(listing, n, f"patch '{name}' is listed but {p} {what}")
        seen[name] = n
        out.append(SeriesEntry(p, provides))
    return out


def _provides(listing: Path, line: int, words: list[str]) -> str | None:
    if not words:
        return None
    key, _, value = words[0].partition("=")
    if len(words) > 1 or key != "provides" or not value:
        raise ConfigError(
            listing,
            line,
            f"'{' '.join(words)}' after the patch name: the only option is "
            f"provides=FEATURE ({', '.join(FEATURES)})",
        )
    if value not in FEATURES:
        raise ConfigError(
            listing, line, f"provides={value}: no such feature (one of {', '.join(FEATURES)})"
        )
    return value
