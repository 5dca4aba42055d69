"""A user's root filesystem, packed into the initramfs as given.

Its entries (settings.rootfs) become gen_init_cpio lines, and the device
nodes the target's initramfs description declares are added (a user's
archive or folder made without root holds none). The static syscall scan
then reads every ELF of it: the list's `file` lines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..core.fingerprint import Fingerprint
from ..core.publish import write_if_changed
from ..settings.initramfs import InitramfsSpec
from ..settings.rootfs import Entry, RootfsError, rootfs_entries

# What the userspace writes to /dev/kmsg as the login shell starts: the guest
# time of its printk line is shell-ready (boot.console.GUEST_READY_TAG).
READY_TAG = b"kqual: shell ready"


def with_nodes(entries: list[Entry], spec: InitramfsSpec, where: Path) -> list[Entry]:
    """The rootfs's entries and the nodes the target declares, parents made."""
    have = {e.path: e for e in entries}
    out = list(entries)
    for node in spec.nodes:
        mine = have.get(node.path)
        if mine is not None:
            if mine.kind == "nod":
                continue  # the rootfs brings it already
            raise RootfsError(
                f"{where}: {node.path} is a {mine.kind} in the root filesystem, and the "
                "target declares a device node there: remove one of them"
            )
        parents = node.path.split("/")[1:-1]
        for i in range(len(parents)):
            d = "/" + "/".join(parents[: i + 1])
            if d not in have:
                have[d] = Entry(d, "dir", 0o755)
                out.append(have[d])
        kind = node.type
        out.append(Entry(node.path, "nod", int(node.mode, 8), dev=(kind, node.major, node.minor)))
    return out


def check_ready_tag(entries: list[Entry], where: Path) -> None:
    """kqual times shell-ready by a line the userspace writes to /dev/kmsg."""
    for e in entries:
        if e.kind == "file" and e.local is not None and e.local.stat().st_size < 1 << 20:
            if READY_TAG in e.local.read_bytes():
                return
    raise RootfsError(
        f"{where}: nothing in this root filesystem writes '{READY_TAG.decode()}' to "
        "/dev/kmsg; kqual measures guest shell-ready time by that line: add "
        f'`echo "{READY_TAG.decode()}" > /dev/kmsg` where the login shell starts '
        "(its /etc/profile, as configs/userspace/initramfs.yaml does)"
    )


@dataclass(frozen=True)
class PackedRootfs:
    """A root filesystem as the kernel build packs it."""

    list_path: Path  # the gen_init_cpio list
    fingerprint: Fingerprint  # every line and every file's content
    busybox: Path | None  # its /bin/busybox, if it has one
    applets: list[str]  # the links to it, for the workload's applet coverage


def pack_rootfs(rootfs: Path, spec: InitramfsSpec, out_dir: Path) -> PackedRootfs:
    """Write the gen_init_cpio list of `rootfs` and the declared nodes into out_dir
    (an archive's files are unpacked under it); the caller holds out_dir's lock."""
    entries = with_nodes(rootfs_entries(rootfs, out_dir / "files"), spec, rootfs)
    check_ready_tag(entries, rootfs)
    text = "".join(e.line() + "\n" for e in entries)
    h = hashlib.sha256()  # content, not where it lies: a moved rootfs is the same build
    for e in entries:
        content = hashlib.sha256(e.local.read_bytes()).hexdigest() if e.local else ""
        fields = (e.path, e.kind, f"{e.mode:o}", e.uid, e.gid, e.link, e.dev, content)
        h.update(" ".join(map(str, fields)).encode() + b"\n")
    list_path = write_if_changed(out_dir / "initramfs.list", text)
    fp = Fingerprint().add_text("rootfs", h.hexdigest()).add_code("image.rootfs")
    box = next((e for e in entries if e.path == "/bin/busybox" and e.kind == "file"), None)
    links = [e.path for e in entries if e.kind == "slink" and e.link.endswith("busybox")]
    return PackedRootfs(list_path, fp, box.local if box else None, links)
