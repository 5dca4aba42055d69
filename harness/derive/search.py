"""Derivation `search`: the size search's result on top of the parent.

The candidate that carries it gets the options the search accepted (its
build starts from the folder of the combination that qualified, so nothing
is rebuilt), leaves the bytes-per-option table, minimal.config and the
waterfall chart, and must pass one more step: minimal.config, built from
scratch, gives the same image.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from ..core import jsonfile
from ..core.publish import write_atomic, write_by_content
from ..core.verdicts import StepName
from ..image.candidate import build_time
from ..search.front import Point, front_chart, front_table, pareto, points
from ..search.report import (
    MINIMAL_PATCHES,
    FullBuild,
    minimal_config,
    minimal_patches,
    table,
    trial_cost,
    waterfall,
)
from ..search.search import Budget, SearchResult, SizeSearch
from ..settings.change import config_line
from ..settings.cycles import CandidateDef
from ..settings.derivation import Context, Contribution, Derivation, register
from ..settings.patches import read_series

FROM_SCRATCH = "minimal-from-scratch"


def size_search(ctx: Context) -> SizeSearch:
    """The cycle's search, one per process, with this run's budget."""
    if "size_search" not in ctx.memo:
        env = ctx.env
        trials = env.search_trials or ctx.cycle.search.trials
        ctx.memo["size_search"] = SizeSearch(ctx, Budget(trials, env.search_deadline))
    return ctx.memo["size_search"]


@register
class Search(Derivation):
    name = "search"
    steps = (StepName.REPRODUCE,)
    carries_search = True
    once = True

    def params(self) -> list[str]:
        return ["search_candidate"]

    def selectors(self, cycle: Any) -> list[str]:
        return [cycle.search.selector] if cycle.search else []

    def prepare(self, ctx: Context) -> None:
        """The search itself: every trial slot not run yet, then the combination."""
        size_search(ctx).result()

    def result(self, ctx: Context) -> SearchResult:
        done = size_search(ctx).finished()
        if done is None:
            raise RuntimeError("the size search was asked for its result before it ran")
        return done

    def fragment_text(self, ctx: Context) -> str:
        r = self.result(ctx)
        head = f"# size_search: {len(r.accepted)} accepted change(s) of {len(r.outcomes)} trials\n"
        return head + "".join(config_line(k, v) + "\n" for k, v in r.values)

    def contribute(self, ctx: Context) -> Contribution:
        r = self.result(ctx)
        path = write_by_content(ctx.generated, "search-result.config", self.fragment_text(ctx))
        return Contribution(fragments=[path], seed=r.seed)

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        me = out.name
        minimal, patches = self._minimal(ctx, me, out)
        if self not in ctx.candidate(me).derivations:
            return {}  # a candidate derived from the carrier (a zImage of it): its own files
        search = size_search(ctx)
        r = self.result(ctx)
        cycle_dir = out.parent
        full = _full_build(ctx)
        base_built = ctx.built(search.base)
        base = Point(search.base, base_built.axf_bytes, ctx.metric(search.base), "base")
        pts = points(base, r.outcomes + r.combinations)
        tolerance = ctx.cycle.regression.tolerance
        baseline_ms = ctx.metric(ctx.cycle.baseline)
        text = table(r, full) + "\n" + front_table(base, pts, tolerance, baseline_ms)
        (out / "search.txt").write_text(text)
        chart = self._chart(ctx, r, me, cycle_dir)
        chart += front_chart(
            base, pts, tolerance, baseline_ms, cycle_dir / f"{ctx.cycle.name}-front"
        )
        data = {
            "run_id": ctx.env.run_id,
            **r.as_json(),
            "charts": [p.name for p in chart],
            "trial_cost": trial_cost(r.outcomes, full).as_json(),
            "front": [p.as_json() for p in pareto(pts)],
        }
        write_atomic(cycle_dir / "search.json", jsonfile.dumps("search", data))
        write_atomic(cycle_dir / "search.txt", text)
        write_atomic(cycle_dir / "minimal.config", minimal)
        write_atomic(cycle_dir / MINIMAL_PATCHES, patches)
        search.prune_build_folders(keep={c.name for c in ctx.chain(r.seed)} if r.seed else set())
        verdicts: dict[str, int] = {}
        for o in r.outcomes:
            verdicts[o.verdict] = verdicts.get(o.verdict, 0) + 1
        return {
            "search": {
                "trials": len(r.outcomes),
                "verdicts": verdicts,
                "accepted": [o.label for o in r.accepted],
                "failed_together": r.failed_together,
                "combinations": len(r.combinations),
                "rounds": len(r.rounds),
                "chart": [p.name for p in chart],
            }
        }

    def _minimal(self, ctx: Context, me: str, out: Path) -> tuple[str, str]:
        """minimal.config and minimal.patches of `me`, next to its results."""
        r = self.result(ctx)
        again = [repr(d) for d in ctx.derivations(me) if d.beyond_config]
        minimal = minimal_config(
            ctx.spec(me).fragments,
            "accepted: " + (", ".join(o.label for o in r.accepted) or "nothing"),
            again,
        )
        (out / "minimal.config").write_text(minimal)
        patches = minimal_patches(ctx.source().version, self._applied(ctx))
        (out / MINIMAL_PATCHES).write_text(patches)
        return minimal, patches

    def _applied(self, ctx: Context) -> list[Path]:
        """The kernel patches of the series that this tree took, in order."""
        applied = set(ctx.source().patch_facts["applied"])
        return [
            e.path for e in read_series(ctx.env.target.kernel_patches) if e.path.name in applied
        ]

    def _chart(self, ctx: Context, r: SearchResult, me: str, cycle_dir: Path) -> list[Path]:
        steps = []
        for name in [c.name for c in ctx.chain(me)][:-1]:
            built = ctx.built(name)
            steps.append((name, built.axf_bytes, built.sizes.as_dict()))
        size = steps[-1][1]
        sections = dict(steps[-1][2])
        for o in sorted(r.accepted, key=lambda o: -(o.saved_bytes or 0)):
            size -= o.saved_bytes or 0
            sections = {k: v - o.saved_sections.get(k, 0) for k, v in sections.items()}
            steps.append((o.label[:28], size, sections))
        final = ctx.built(me)
        steps.append((f"{me} (measured)", final.axf_bytes, final.sizes.as_dict()))
        return waterfall(steps, cycle_dir / f"{ctx.cycle.name}-waterfall")

    def check(self, ctx: Context, candidate: str, step: StepName) -> tuple[bool, str, dict]:
        """minimal.config from scratch: a fresh build folder, the same linux.axf."""
        mine = ctx.built(candidate)
        minimal = mine.results / "minimal.config"
        # A pruned syscall table, a zImage are no options: the same derivations
        # make them again.
        scratch = CandidateDef(name=f"{candidate}-{FROM_SCRATCH}", fragments=[str(minimal)])
        scratch.derivations = [d for d in ctx.derivations(candidate) if d.beyond_config]
        # It derives from nothing, so its folder (named by minimal.config's content)
        # is never seeded from another: it was built from an empty folder.
        ctx.declare(scratch)
        again = ctx.built(scratch.name)
        same = again.axf_bytes == mine.axf_bytes
        digest = [_sha(p) for p in (again.axf, mine.axf)]
        detail = f"from scratch {again.axf_bytes:,} bytes, selected {mine.axf_bytes:,} bytes" + (
            "" if digest[0] == digest[1] else " (contents differ)"
        )
        facts = {
            "reproduced_bytes": again.axf_bytes,
            "reproduced_identical": digest[0] == digest[1],
        }
        return same, detail, facts


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if os.path.exists(path) else ""


def _full_build(ctx: Context) -> FullBuild | None:
    """The baseline's build folder's last build, when it started from an empty
    folder (whichever cycle or worker built it)."""
    name = ctx.cycle.baseline
    timed = build_time(ctx.built(name).kernel.folder)
    return FullBuild(name, timed[0]) if timed and timed[1] == "scratch" else None
