"""An image's figures against a budget: which buckets are over their ceiling."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings.budget import Bucket, Budget
from .image_sizes import ImageSizes


@dataclass(frozen=True)
class BucketFigure:
    bucket: Bucket
    bytes: int
    present: bool  # False: a folder no object of the image comes from (0 bytes)

    @property
    def over(self) -> bool:
        return self.bytes > self.bucket.ceiling + self.bucket.noise

    def line(self, origin: str) -> str:
        b = self.bucket
        band = f" + noise {b.noise:,}" if b.noise else ""
        state = "OVER" if self.over else "ok"
        absent = " (no object of the image is in this folder)" if not self.present else ""
        where = f"{origin}:{b.line}" if b.line else origin
        return (
            f"{state:<5}{b.name}: {self.bytes:,} bytes, ceiling {b.ceiling:,}{band}"
            f"{absent} [{where}]"
        )


def figures(budget: Budget, sizes: ImageSizes) -> list[BucketFigure]:
    """Each bucket's bytes in this image."""
    out = []
    for b in budget.buckets:
        if b.kind == "section":
            value, present = sizes.sections.get(b.name, 0), True
        elif b.name == "linux.axf":
            value, present = sizes.linux_axf_bytes, True
        elif b.name == "resident":
            value, present = sizes.resident_bytes, True
        else:
            present = b.name in sizes.subsystems.folders
            value = sizes.subsystems.folders.get(b.name, 0)
        out.append(BucketFigure(b, value, present))
    return out


def breaches(budget: Budget, sizes: ImageSizes) -> list[BucketFigure]:
    return [f for f in figures(budget, sizes) if f.over]
