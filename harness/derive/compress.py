"""Derivation `compress`: boot a self-decompressing zImage instead of the Image,
`derive: [{compress: {method: lz4}}]`.

linux.axf shrinks by what the compressor takes out of the Image, and the boot
pays for the decompressor, which runs before the kernel's clock: its
instructions are counted into the candidate's guest time (boot/pre_kernel.py),
so the regression rule judges the trade. Measured on the search's best image
(bench/kernel_compression.py): LZ4 takes 0.76x the bytes for 13 ms more on a
57 ms boot, gzip 0.69x for 22 ms, xz 0.58x for 171 ms. The compressor is a
Kconfig choice, and a candidate whose fragments make that choice boots the
zImage: a search knob or minimal.config that sets it does the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.publish import write_if_changed
from ..settings.derivation import Context, Contribution, Derivation, register

# method -> the Kconfig choice (arch/arm selects HAVE_KERNEL_* for each)
METHODS = {
    "lz4": "KERNEL_LZ4",
    "lzo": "KERNEL_LZO",
    "gzip": "KERNEL_GZIP",
    "xz": "KERNEL_XZ",
    "lzma": "KERNEL_LZMA",
}


@register
class Compress(Derivation):
    name = "compress"
    options = {"method": str}
    once = True  # one compressor per zImage

    def __init__(self, **opts: Any) -> None:
        super().__init__(**opts)
        self.method = opts.get("method", "lz4")
        if self.method not in METHODS:
            raise ValueError(
                f"method {self.method!r} is no kernel compressor: choose from {', '.join(METHODS)}"
            )

    def kconfig_symbols(self) -> list[str]:
        return [METHODS[self.method]]

    def fragment_text(self) -> str:
        return f"CONFIG_{METHODS[self.method]}=y\n"

    def contribute(self, ctx: Context) -> Contribution:
        path = ctx.generated / f"compress-{self.method}.config"
        # choosing a compressor is what asks for the zImage (image/kernel_build.py)
        return Contribution(fragments=[write_if_changed(path, self.fragment_text())])

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        return {"compression": self.method}
