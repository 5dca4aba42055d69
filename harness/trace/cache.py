"""A content-addressed cache of trace analyses.

Key: image fingerprint, workload sha256, trace selector (its name and its
definition) and the analysis code. Each selector has its own folder, so the
`full` and `syscalls` profiles of one image never collide.

An entry is filled once, under a file lock (xdist workers wait for one
trace), built in a temporary folder and published by rename, so a killed run
never leaves a partial entry. Its manifest lists every file with a sha256; a
corrupt entry is discarded and rebuilt. Cached files are read-only and leave
the cache by copy, never by hard link, so nothing outside can change them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from filelock import FileLock

from ..core import jsonfile
from ..core.errors import KqualError
from ..core.fingerprint import code_fingerprint, sha256_file
from ..core.progress import say
from .analysis import Profile

MANIFEST = "kqual-cache.json"
# The code that collects and analyses a trace and writes what an entry holds;
# what it imports from trace/ and boot/ (the QEMU session and console it runs
# through) is found from the imports, so none can be left out of the key.
TRACE_CODE = ("trace.collect", "trace.parser", "trace.analysis", "core.jsonfile")
TRACE_FOLLOW = ("trace", "boot")


def analysis_code_digest(root: Path | None = None) -> str:
    return code_fingerprint(*TRACE_CODE, follow=TRACE_FOLLOW, root=root).digest


@dataclass(frozen=True)
class CacheKey:
    image_fingerprint: str
    workload_sha256: str
    selector: str
    selector_spec: str
    analysis_code: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def __str__(self) -> str:
        return f"{self.selector}/{self.digest[:16]}"


@dataclass(frozen=True)
class CacheEntry:
    key: CacheKey
    folder: Path
    hit: bool

    def file(self, name: str) -> Path:
        return self.folder / name

    def profile(self) -> Profile:
        """The analysis as typed data (profile.json is only its form on disk)."""
        data = jsonfile.loads("profile", self.file("profile.json").read_text())
        if data is None:
            raise ValueError(f"{self.file('profile.json')} is no kqual profile")
        return Profile.from_json(data)


class ProfileCache:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, key: CacheKey) -> Path:
        return self.root / key.selector / key.digest

    def valid(self, key: CacheKey) -> bool:
        """A whole entry for key: its manifest names every file, with the right sums."""
        folder = self.folder(key)
        try:
            manifest = jsonfile.loads("profile-entry", (folder / MANIFEST).read_text())
            present = {p.name for p in folder.iterdir()} - {MANIFEST}
        except (OSError, ValueError):
            return False  # missing, unreadable, or not a folder
        if manifest is None or manifest.get("key") != asdict(key):
            return False
        files = manifest.get("files")
        if not isinstance(files, dict) or not files or present != set(files):
            return False  # an entry always holds the profile: an empty one is partial
        try:
            return all(sha256_file(folder / n) == digest for n, digest in files.items())
        except OSError:
            return False

    def get_or_fill(self, key: CacheKey, fill: Callable[[Path], None]) -> CacheEntry:
        """The entry for key; `fill(folder)` writes its files on a miss."""
        try:
            return self._get_or_fill(key, fill)
        except OSError as e:
            if e.errno in (errno.ENOSPC, errno.EDQUOT):
                raise KqualError(
                    f"profile cache {self.root}: no space left on its file system "
                    f"({e.strerror}); free space there, or point --profile-cache or "
                    "KQUAL_CACHE at a larger one. Nothing partial was kept."
                ) from None
            if e.errno in (errno.ENOTDIR, errno.EEXIST) or isinstance(e, NotADirectoryError):
                raise KqualError(
                    f"profile cache {self.root}: {e.filename} is in the way ({e.strerror}); "
                    "the cache must be a folder of folders: move that file away"
                ) from None
            raise

    def _get_or_fill(self, key: CacheKey, fill: Callable[[Path], None]) -> CacheEntry:
        folder = self.folder(key)
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder) + ".lock"):
            if self.valid(key):
                say(f"profile cache hit: {key} ({folder})")
                return CacheEntry(key, folder, hit=True)
            if folder.exists() or folder.is_symlink():
                say(f"profile cache: discarding corrupt or partial entry {key}")
                _remove(folder)
            say(f"profile cache miss: {key}, filling")
            tmp = folder.parent / f".tmp-{key.digest}-{os.getpid()}"
            _remove(tmp)
            tmp.mkdir()
            try:
                fill(tmp)
                files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
                (tmp / MANIFEST).write_text(
                    jsonfile.dumps("profile-entry", {"key": asdict(key), "files": files})
                )
                for p in tmp.iterdir():
                    p.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
                os.rename(tmp, folder)
            except BaseException:
                _remove(tmp)
                raise
        return CacheEntry(key, folder, hit=False)

    @staticmethod
    def materialize(entry: CacheEntry, dest: Path) -> list[Path]:
        """Writable copies of the entry's files in dest (copies, never links)."""
        dest.mkdir(parents=True, exist_ok=True)
        out = []
        for p in sorted(entry.folder.iterdir()):
            target = dest / p.name
            target.unlink(missing_ok=True)
            shutil.copyfile(p, target)  # copies bytes; never os.link
            out.append(target)
        return out


def _remove(folder: Path) -> None:
    if folder.is_file() or folder.is_symlink():
        folder.unlink()
        return
    if not folder.exists():
        return
    for p in [folder, *folder.rglob("*")]:
        try:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)
        except OSError:
            pass
    shutil.rmtree(folder, ignore_errors=True)
