"""The initramfs, from a declarative description to a gen_init_cpio list.

The kernel packs a gen_init_cpio list itself when CONFIG_INITRAMFS_SOURCE
names one, and re-packs it when the list or a listed file changes: no cpio
archive of ours to build or keep in step.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from ..settings.initramfs import InitramfsSpec


def _parents(paths: list[str]) -> list[str]:
    out: set[str] = set()
    for p in paths:
        for parent in PurePosixPath(p).parents:
            if str(parent) != "/":
                out.add(str(parent))
    return sorted(out, key=lambda s: (s.count("/"), s))


def render_list(spec: InitramfsSpec, busybox: Path, applets: list[str], files_dir: Path) -> str:
    """gen_init_cpio lines; text files are written under files_dir."""
    lines = []
    applet_paths = [a if a.startswith("/") else "/" + a for a in applets]
    all_paths = [
        *spec.dirs,
        *(n.path for n in spec.nodes),
        spec.busybox,
        *spec.links,
        *spec.files,
        *applet_paths,
    ]
    dirs = sorted(set(spec.dirs) | set(_parents(all_paths)), key=lambda s: (s.count("/"), s))
    lines += [f"dir {d} 0755 0 0" for d in dirs]
    for n in spec.nodes:
        lines.append(f"nod {n.path} {n.mode} 0 0 {n.type} {n.major} {n.minor}")
    lines.append(f"file {spec.busybox} {busybox} 0755 0 0")
    explicit = set(spec.links) | set(spec.files) | {spec.busybox}
    for a in applet_paths:
        if a not in explicit:
            lines.append(f"slink {a} {spec.busybox} 0777 0 0")
    for link, dest in spec.links.items():
        lines.append(f"slink {link} {dest} 0777 0 0")
    files_dir.mkdir(parents=True, exist_ok=True)
    for dest, f in spec.files.items():
        local = files_dir / dest.strip("/").replace("/", "__")
        if not local.exists() or local.read_text() != f.text:
            local.write_text(f.text)  # unchanged files keep their mtime for kbuild
        lines.append(f"file {dest} {local} {f.mode} 0 0")
    return "\n".join(lines) + "\n"
