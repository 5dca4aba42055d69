"""A user's root filesystem (target `userspace.rootfs`), read as given.

A folder, or an uncompressed `newc` cpio archive, as entries gen_init_cpio
can pack: a folder's are owned by root (as kbuild packs a folder), an
archive's keep their owners and modes. Names gen_init_cpio cannot write (a
blank in them) or that climb out of the root are refused by name.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import KqualError
from ..core.publish import write_if_changed

NEWC = (b"070701", b"070702")
TRAILER = "TRAILER!!!"
_BLANK = re.compile(rb"\s")


class RootfsError(KqualError):
    """A root filesystem kqual cannot pack as given; names the file and entry."""


@dataclass(frozen=True)
class Entry:
    """One gen_init_cpio line's worth: `kind` is dir, file, slink, nod, pipe or sock."""

    path: str  # absolute, in the image
    kind: str
    mode: int  # permission bits
    uid: int = 0
    gid: int = 0
    local: Path | None = None  # a file's content
    link: str = ""  # a symlink's target
    dev: tuple[str, int, int] | None = None  # a node's (c|b, major, minor)

    def line(self) -> str:
        head = f"{self.path} {self.mode:04o} {self.uid} {self.gid}"
        if self.kind == "file":
            return f"file {self.path} {self.local} {self.mode:04o} {self.uid} {self.gid}"
        if self.kind == "slink":
            return f"slink {self.path} {self.link} {self.mode:04o} {self.uid} {self.gid}"
        if self.kind == "nod":
            assert self.dev is not None
            return f"nod {head} {self.dev[0]} {self.dev[1]} {self.dev[2]}"
        return f"{self.kind} {head}"


def is_cpio(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(6) in NEWC


def _image_path(where: Path, name: bytes) -> str:
    """An entry's name as an absolute image path gen_init_cpio can read."""
    if _BLANK.search(name):
        raise RootfsError(
            f"{where}: entry {name!r} has a blank in its name, which gen_init_cpio "
            "cannot pack (it splits its lines at blanks): rename it"
        )
    try:
        text = name.decode()
    except UnicodeDecodeError:
        raise RootfsError(f"{where}: entry {name!r} is not UTF-8: rename it") from None
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise RootfsError(f"{where}: entry {text!r} climbs out of the root ('..')")
    return "/" + "/".join(parts)


def folder_entries(root: Path) -> list[Entry]:
    """Every entry under `root`, parents first, owned by root."""
    out: list[Entry] = []
    for top, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted([*dirs, *files]):
            local = Path(top) / name
            path = _image_path(root, os.fsencode(local.relative_to(root)))
            st = local.lstat()
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISLNK(st.st_mode):
                out.append(Entry(path, "slink", 0o777, link=_link(root, os.readlink(local))))
            elif stat.S_ISDIR(st.st_mode):
                out.append(Entry(path, "dir", mode))
            elif stat.S_ISREG(st.st_mode):
                out.append(Entry(path, "file", mode, local=local.resolve()))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "c" if stat.S_ISCHR(st.st_mode) else "b"
                dev = (kind, os.major(st.st_rdev), os.minor(st.st_rdev))
                out.append(Entry(path, "nod", mode, dev=dev))
            elif stat.S_ISFIFO(st.st_mode):
                out.append(Entry(path, "pipe", mode))
            elif stat.S_ISSOCK(st.st_mode):
                out.append(Entry(path, "sock", mode))
    return out


def _link(where: Path, target: str) -> str:
    if not target or _BLANK.search(target.encode()):
        raise RootfsError(f"{where}: a symbolic link to {target!r} cannot be packed (blank)")
    return target


def cpio_entries(archive: Path, files_dir: Path | None) -> list[Entry]:
    """The entries of a newc archive; file contents are written under files_dir
    (hard links, whose data newc stores once, each get it), or not at all when
    it is None (a listing, to check names)."""
    data = archive.read_bytes()
    out: list[Entry] = []
    linked: dict[tuple[int, int], list[int]] = {}  # (dev, ino) -> entries
    offset, n = 0, 0
    if files_dir is not None:
        files_dir.mkdir(parents=True, exist_ok=True)
    while True:
        head = data[offset : offset + 110]
        if len(head) < 110 or head[:6] not in NEWC:
            raise RootfsError(
                f"{archive}: no cpio (newc) header at byte {offset}: the archive is cut "
                "short or not made with 'cpio -H newc' (uncompress a .cpio.gz first)"
            )
        try:
            f = [int(head[6 + 8 * i : 14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise RootfsError(f"{archive}: a damaged cpio header at byte {offset}") from None
        ino, mode, uid, gid, nlink, _, size, dmaj, dmin, rmaj, rmin, namesize, _ = f
        name_end = offset + 110 + namesize
        body = (name_end + 3) & ~3
        end = body + size
        if end > len(data):
            raise RootfsError(f"{archive}: entry at byte {offset} runs past the end (cut short)")
        raw = data[offset + 110 : name_end].rstrip(b"\0")
        offset = (end + 3) & ~3
        if raw == TRAILER.encode():
            break
        path = _image_path(archive, raw)
        if path == "/":
            continue
        perm, kind = stat.S_IMODE(mode), stat.S_IFMT(mode)
        if kind == stat.S_IFDIR:
            out.append(Entry(path, "dir", perm, uid, gid))
        elif kind == stat.S_IFLNK:
            target = data[body:end].decode(errors="replace")
            out.append(Entry(path, "slink", perm, uid, gid, link=_link(archive, target)))
        elif kind == stat.S_IFREG:
            n += 1
            local = None
            if files_dir is not None:
                local = files_dir / f"{n:05d}-{path.rsplit('/', 1)[-1]}"
                write_if_changed(local, data[body:end])
            out.append(Entry(path, "file", perm, uid, gid, local=local))
            if nlink > 1:
                linked.setdefault((dmaj << 32 | dmin, ino), []).append(len(out) - 1)
        elif kind in (stat.S_IFCHR, stat.S_IFBLK):
            dev = ("c" if kind == stat.S_IFCHR else "b", rmaj, rmin)
            out.append(Entry(path, "nod", perm, uid, gid, dev=dev))
        elif kind == stat.S_IFIFO:
            out.append(Entry(path, "pipe", perm, uid, gid))
        elif kind == stat.S_IFSOCK:
            out.append(Entry(path, "sock", perm, uid, gid))
        else:
            raise RootfsError(f"{archive}: entry {path} has an unknown file type {kind:o}")
    for group in linked.values():  # newc: the data is with the last link only
        locals_ = [p for i in group if (p := out[i].local) is not None]
        full = max(locals_, key=lambda p: p.stat().st_size, default=None)
        for p in locals_:
            if full is not None and p.stat().st_size == 0:
                write_if_changed(p, full.read_bytes())
    return out


def rootfs_entries(rootfs: Path, files_dir: Path | None) -> list[Entry]:
    return folder_entries(rootfs) if rootfs.is_dir() else cpio_entries(rootfs, files_dir)
