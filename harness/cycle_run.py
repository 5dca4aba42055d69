"""Run one cycle's candidates: derive, build, boot, profile, compare.

A candidate derived `from` another inherits its fragments, trim and pruned
table, and its build starts from a copy of that candidate's build folder, so
only what it changes is rebuilt. Everything a test needs comes through here,
memoized per process, so pytest fixtures stay thin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .boot.census import CENSUS_FILE, CensusRecord, read_census, take_census
from .boot.coverage import applet_coverage
from .boot.initcall_boot import initcall_boot
from .boot.initcalls import Timeline, explain, read_timeline, write_timeline
from .boot.meminfo import read_meminfo
from .boot.pre_kernel import pre_kernel_of
from .boot.qemu import BootFailure, QemuSession, StepTimeout
from .boot.qualify import BootReport, icount_boot, qualify_boot
from .boot.user_fault import check_user_fault
from .core import jsonfile
from .core.errors import CandidateSkipped, KqualError, MissingMeasurement
from .core.paths import cache_dir, candidate_dir, resolve, work_dir
from .core.publish import write_atomic
from .core.verdicts import StepName
from .derive.reachable import reachable_syscalls
from .image.candidate import (
    BuiltCandidate,
    CandidateSpec,
    build_candidate,
    build_time,
    definition_key,
)
from .image.kernel_build import boot_image_for
from .image.kernel_source import KernelSource, prepare_source
from .image.userspace import Userspace, build_userspace, write_initramfs
from .kernel.implemented import lost_syscalls
from .kernel.syscall_table import syscall_names
from .report.budget_check import figures
from .report.image_sizes import read_sizes, record_sizes
from .report.metadata import build_metadata, write_metadata
from .report.results import Records
from .scan.syscalls import ScanResult
from .settings.budget import load_budget
from .settings.cycles import CandidateDef, CycleDef
from .settings.derivation import Derivation
from .settings.initramfs import load_spec
from .settings.selectors import Selector
from .settings.target import Target
from .settings.workload import Workload
from .trace.cache import CacheEntry, ProfileCache
from .trace.profile import get_profile

# The workload failure's label when a program's fault brought more than it down.
USER_FAULT_STEP = "kqual_user_fault"


@dataclass
class Environment:
    target: Target
    workload: Workload
    cache: ProfileCache
    selectors: dict[str, Selector]
    records: Records  # this run's result.json writer
    keep_extra: list[str]
    boots: int | None = None  # overrides the cycle rule's boots (pytest --boots)
    icount_boots: int = 1
    search_trials: int | None = None  # overrides the cycle's search.trials (--search-budget)
    search_deadline: float | None = None  # time.time() after which no search trial starts

    @property
    def run_id(self) -> str:
        return self.records.run_id


class CycleRunner:
    def __init__(self, env: Environment, cycle: CycleDef) -> None:
        self.env = env
        self.cycle = cycle
        self._built: dict[str, BuiltCandidate | BaseException] = {}
        self.memo: dict[Any, Any] = {}  # what derivations compute once per run
        self._reachable: ScanResult | None = None
        self._metrics: dict[str, float] = {}
        self._live: dict[str, QemuSession] = {}
        # Inputs the derivations generate, named by content and shared by every
        # cycle of the target: the same trim or table is the same file.
        self.generated = work_dir() / "generated" / env.target.name
        self._specs: dict[str, CandidateSpec] = {}
        self._declared: dict[str, CandidateDef] = {}  # made while it runs (search trials)

    # -- the candidates ---------------------------------------------------
    def declare(self, candidate: CandidateDef) -> None:
        """A candidate this run makes (a search trial), or a new definition of one."""
        self._declared[candidate.name] = candidate
        self.forget(candidate.name)

    def declared(self) -> list[CandidateDef]:
        return list(self._declared.values())

    def candidate(self, name: str) -> CandidateDef:
        return self.cycle.candidate(name, self._declared)

    def chain(self, name: str) -> list[CandidateDef]:
        return self.cycle.chain(name, self._declared)

    def derivations(self, name: str) -> list[Derivation]:
        return self.cycle.derivations(name, self._declared)

    # -- derivation -------------------------------------------------------
    def build_name(self, name: str) -> str:
        """The candidate's build folder: named by what it builds, so that a candidate
        of another cycle, or under another name, with the same inputs shares it."""
        return definition_key(self.spec(name))

    def results(self, name: str) -> Path:
        return candidate_dir(self.env.target.name, self.cycle.name, name)

    def spec(self, name: str) -> CandidateSpec:
        """What the candidate builds (worked out once per process)."""
        if name not in self._specs:
            self._specs[name] = self._spec(name)
        return self._specs[name]

    def _spec(self, name: str) -> CandidateSpec:
        fragments: list[Path] = []
        make_extra: list[str] = []
        text_order = ""
        chain = self.chain(name)
        me = chain[-1]
        seed = self.build_name(me.base) if me.base else None
        for c in chain:
            fragments += [resolve(f) for f in c.fragments]
            for d in c.derivations:
                given = d.contribute(self)
                fragments += given.fragments
                make_extra += given.make_extra
                text_order = given.text_order or text_order
                if c is me and given.seed:
                    seed = self.build_name(given.seed)
        return CandidateSpec(
            name=name,
            cycle=self.cycle.name,
            fragments=fragments,
            make_extra=make_extra,
            seed=seed,
            text_order=text_order,
            boot_image=boot_image_for([*self.env.target.fragment_paths, *fragments]),
        )

    def source(self) -> KernelSource:
        """The prepared kernel tree: which of our patches it has."""
        return prepare_source(self.env.target, self.results(self.cycle.baseline))

    def syscall_table(self) -> Path:
        return self.source().syscall_table

    def userspace(self) -> Userspace:
        target = self.env.target
        out = self.results(self.cycle.baseline)
        return build_userspace(target, prepare_source(target, out), out)

    def reachable(self) -> ScanResult:
        """What the initramfs's binaries can call (static scan, cached)."""
        if self._reachable is None:
            userspace = self.userspace()
            self._reachable = reachable_syscalls(
                userspace,
                write_initramfs(self.env.target, userspace),
                cache_dir() / "syscall-scan",
            )
        return self._reachable

    def record_coverage(self) -> None:
        """What the workload exercises of the userspace, for the cycle's summary."""
        cov = applet_coverage(self.env.workload, self.userspace().applets)
        data: dict[str, object] = {"run_id": self.env.run_id, "applets": cov.as_json()}
        path = self.results(self.cycle.baseline).parent / "coverage.json"
        write_atomic(path, jsonfile.dumps("coverage", data))

    # -- steps ------------------------------------------------------------
    def built(self, name: str) -> BuiltCandidate:
        """Build once per process; a failure is remembered and raised again.

        Only the candidate's own failure (make, a config that did not apply, a
        derivation's verdict) is recorded as failed_build; any other exception
        is our bug: raised with its traceback, and no verdict is written.
        """
        if name not in self._built:
            try:
                parent = self.candidate(name).base
                if parent is not None:
                    self.built(parent)  # its build folder seeds this one: it must be done
                self._skip_if_asked(name)
                for d in self.candidate(name).derivations:
                    d.prepare(self)  # its own step, before the build can be said
                spec = self.spec(name)
                built = build_candidate(self.env.target, spec)
                if built.kernel.zimage:  # its decompressor runs before the printk clock
                    pre = pre_kernel_of(self.env.target, built)
                    built.pre_kernel_ms = pre.guest_ms
                    built.facts["pre_kernel"] = pre.as_json()
                self._record_sizes(built)
                self.env.records.step(built.results, StepName.BUILD, True, **built.facts)
                self._built[name] = built
                self._record_derivation(name)
            except CandidateSkipped as e:
                self._built[name] = e
            except Exception as e:  # re-raised below and on every later ask
                self._built[name] = e
                if not isinstance(e, KqualError):
                    raise
                self.env.records.step(
                    self.results(name),
                    StepName.BUILD,
                    False,
                    str(e) or type(e).__name__,
                    candidate=name,
                    cycle=self.cycle.name,
                )
        got = self._built[name]
        if isinstance(got, BaseException):
            raise got
        return got

    def _record_sizes(self, built: BuiltCandidate) -> None:
        """sizes.json for compare and budgets, the resident bytes in the record, and
        metadata.json: what CI reads of the build."""
        sizes = record_sizes(
            built.results,
            built.kernel.folder,
            built.fingerprint.digest,
            built.sizes,
            built.axf_bytes,
            self.env.target.cross,
            self.syscall_table(),
        )
        built.facts["kernel_resident_bytes"] = sizes.resident_bytes
        facts = dict(built.facts)
        if "build_seconds" not in facts and (timed := build_time(built.kernel.folder)):
            facts["build_seconds"] = timed[0]  # another worker's build, or an earlier run's
        spec = built.spec
        data = build_metadata(
            self.env.target,
            self.source(),
            built.results,
            facts,
            spec.make_extra,
            bool(spec.text_order),
        )
        write_metadata(built.results, data)

    def _skip_if_asked(self, name: str) -> None:
        for d in self.derivations(name):
            why = d.skip(self)
            if why:
                self.env.records.update(
                    self.results(name), skipped=str(why), candidate=name, cycle=self.cycle.name
                )
                raise CandidateSkipped(f"{self.cycle.name}/{name} not built: {why}")

    def built_so_far(self) -> dict[str, BuiltCandidate]:
        """The candidates this process has built (or found up to date)."""
        return {n: b for n, b in self._built.items() if isinstance(b, BuiltCandidate)}

    def forget(self, name: str) -> None:
        """Build `name` afresh next time it is asked for (its definition changed)."""
        self._built.pop(name, None)
        self._specs.pop(name, None)

    def _record_derivation(self, name: str) -> None:
        out = self.results(name)
        if name == self.cycle.baseline:
            self.record_coverage()
        facts: dict[str, Any] = {}
        for d in self.derivations(name):
            facts |= d.leave(self, out)
        if facts:
            self.env.records.update(out, **facts)

    def profile(self, name: str, selector: str) -> CacheEntry:
        """The candidate's profile under `selector` (traced once; asked for often)."""
        key = ("profile", name, selector)
        if key not in self.memo:
            self.memo[key] = self._profile(name, selector)
        return self.memo[key]

    def _profile(self, name: str, selector: str) -> CacheEntry:
        return get_profile(
            self.env.target,
            self.built(name),
            self.env.workload,
            selector,
            self.env.selectors[selector],
            self.env.cache,
        )

    def locality(self, name: str) -> dict[str, int]:
        """The candidate's code locality from its trace under the cycle's locality
        selector (traced once, then from the profile cache), into its record."""
        selector = self.cycle.locality_selector
        if selector is None:
            raise ValueError(f"cycle {self.cycle.name} measures no locality (locality_selector)")
        loc = self.profile(name, selector).profile().locality
        self.env.records.update(self.results(name), locality=loc)
        return loc

    def live(self, name: str) -> QemuSession:
        """The candidate's machine left up by boot(), or a fresh one."""
        if name not in self._live:
            self.boot(name)
        return self._live[name]

    def close_sessions(self, name: str | None = None) -> None:
        for key in [name] if name else list(self._live):
            session = self._live.pop(key, None)
            if session is not None:
                session.close()

    def boot(self, name: str) -> BootReport:
        """Qualifying boots; the last machine stays up for the workload (see live())."""
        self.close_sessions(name)
        built = self.built(name)
        try:
            report_, session = qualify_boot(
                self.env.target,
                built.axf,
                built.results,
                self.env.boots or self.cycle.regression.boots,
                self.env.icount_boots,
                f"{self.cycle.name}/{name}",
                built.pre_kernel_ms,
            )
        except KqualError as e:
            self.env.records.step(built.results, StepName.BOOT, False, str(e) or type(e).__name__)
            raise
        self.env.records.step(built.results, StepName.BOOT, True, **report_.as_result())
        self._live[name] = session
        if self.cycle.regression.metric == "guest_shell_ready_ms" and report_.guest_shell_ready_ms:
            self._metrics[name] = report_.guest_shell_ready_ms  # no second icount boot
        return report_

    def explain(self, e: BootFailure) -> str:
        """A console failure in a line, naming a pruned syscall when that was it."""
        if e.syscall is None:
            return e.detail
        name = syscall_names(self.syscall_table()).get(e.syscall, "?")
        return f"pruned syscall {name} ({e.syscall}) was called: {e.detail}"

    def run_workload(self, name: str) -> list[str]:
        """Every workload step on the candidate's live machine; the failures, each with why.

        The verdict is written whatever happens, so no earlier run's stands.
        """
        built = self.built(name)
        failures: list[str] = []
        try:
            session = self.live(name)
            for step in self.env.workload.steps:
                try:
                    res = session.run(step.command, step.timeout_s)
                except StepTimeout as e:
                    failures.append(f"{step.label}: {e.detail}")
                    continue  # interrupted, and the shell answers again
                except BootFailure as e:
                    failures.append(f"{step.label}: {self.explain(e)}")
                    if e.syscall is not None:
                        continue  # the notice came with the step's output: still in step
                    break  # the kernel failed: nothing later can be trusted
                why = step.failure(res.output, res.status)
                if why:
                    failures.append(f"{step.label}: {why}")
            else:  # the kernel lived through the workload: kqual's own check of the image
                failures += self._user_fault(session)
        except KqualError as e:
            failures.append(f"not run: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
            self._record_workload(built.results, failures)
            raise
        finally:
            self.close_sessions(name)
        self._record_workload(built.results, failures)
        self._take_census(name)
        return failures

    # -- what a shell sees --------------------------------------------------
    def _nodes(self) -> list[str]:
        """The device nodes the initramfs declares: each must still open."""
        if "nodes" not in self.memo:
            target = self.env.target
            spec = load_spec(target.initramfs_spec, nodes_only=target.rootfs is not None)
            self.memo["nodes"] = [n.path for n in spec.nodes]
        return self.memo["nodes"]

    def _take_census(self, name: str) -> CensusRecord | None:
        """The census of a fresh machine of its own, so that the workload and the
        census cannot change what the other sees; recorded as its own step. A
        candidate whose shell cannot take it fails that step."""
        built = self.built(name)
        out = built.results
        try:
            with QemuSession(self.env.target, built.axf, out / "console-census.log") as session:
                session.boot()
                memory = read_meminfo(session)  # before anything runs: what init left
                census = take_census(session, self._nodes(), out / "census-output.txt")
        except BootFailure as e:
            self.env.records.step(out, StepName.CENSUS, False, self.explain(e))
            return None
        except KqualError as e:
            self.env.records.step(out, StepName.CENSUS, False, str(e) or type(e).__name__)
            return None
        base = self.built(self.cycle.baseline).results / "System.map"
        lost = [] if name == self.cycle.baseline else lost_syscalls(self, out / "System.map", base)
        record = CensusRecord(self.env.run_id, census, lost, memory)
        write_atomic(out / CENSUS_FILE, record.dumps())
        facts: dict[str, Any] = {"census_entries": len(census.entries), "syscalls_lost": lost}
        facts |= memory.as_json()
        self.env.records.step(out, StepName.CENSUS, True, **facts)
        return record

    def census(self, name: str) -> CensusRecord:
        """The candidate's census of this run: taken after its workload, or now."""
        got = read_census(self.results(name), self.env.run_id) or self._take_census(name)
        if got is None:
            raise MissingMeasurement(f"{self.cycle.name}/{name}: its census could not be taken")
        return got

    def _user_fault(self, session: QemuSession) -> list[str]:
        """A program's fault must kill that program only, on every candidate. A tree
        without patch 0003 stops at a user fault: the summary says it was not run."""
        if not self.source().has("user_fault_signal"):
            return []
        try:
            why = check_user_fault(session)
        except StepTimeout as e:
            why = e.detail
        except BootFailure as e:
            why = self.explain(e)
        return [f"{USER_FAULT_STEP}: {why}"] if why else []

    def _record_workload(self, out: Path, failures: list[str]) -> None:
        self.env.records.step(
            out, StepName.WORKLOAD, not failures, "; ".join(failures), workload_failures=failures
        )

    def measured(self, name: str) -> float | None:
        """The regression metric when this process has it already (no boot for it)."""
        return self._metrics.get(name)

    def metric(self, name: str) -> float:
        """The regression metric: from boot() when it ran here, else one -icount boot."""
        if name not in self._metrics:
            key = self.cycle.regression.metric
            if key != "guest_shell_ready_ms":  # the cycles file allows no other
                raise ValueError(f"unknown regression metric {key!r}")
            built = self.built(name)
            log = built.results / "console-metric.log"
            value = icount_boot(self.env.target, built.axf, log, built.pre_kernel_ms)
            if value is None:
                raise MissingMeasurement(
                    f"{name}: the shell's printk timestamp is not in {log}: did /etc/profile "
                    "write its /dev/kmsg line?"
                )
            self._metrics[name] = value
        return self._metrics[name]

    def _checked(self, name: str, step: StepName, check) -> tuple[bool, str]:
        """Run a check and record its outcome; a candidate's error fails it, recorded too."""
        try:
            ok, detail, facts = check()
        except KqualError as e:
            self.env.records.step(self.results(name), step, False, f"not checked: {e}")
            raise
        self.env.records.step(self.results(name), step, ok, detail, **facts)
        return ok, detail

    def regression(self, name: str) -> tuple[bool, str]:
        """Is the candidate's regression metric within the rule against the baseline?"""
        rule = self.cycle.regression

        def check():
            base = self.metric(self.cycle.baseline)
            mine = self.metric(name)
            detail = (
                f"{rule.metric} {mine:.3f} ms vs baseline {base:.3f} ms "
                f"(allowed +{rule.tolerance:.0%})"
            )
            ok = rule.allows(base, mine)
            if not ok:  # say where: the phases and initcalls that grew
                detail += "; " + self._where_slower(name)
            return ok, detail, {f"baseline_{rule.metric}": base}

        return self._checked(name, StepName.REGRESSION, check)

    def limits(self, name: str) -> tuple[bool, str]:
        """Is the candidate within the cycle's limits: its budget's buckets, its
        resident bytes, the MemAvailable its shell starts with?"""
        rule = self.cycle.limits

        def check():
            built = self.built(name)  # writes its sizes.json
            sizes = read_sizes(built.results)
            if sizes is None:
                raise MissingMeasurement(f"{self.cycle.name}/{name}: no {built.results}/sizes.json")
            over: list[str] = []
            lines: list[str] = []
            if rule.budget is not None:
                for fig in figures(load_budget(resolve(rule.budget)), sizes):
                    lines.append(fig.line(rule.budget))
                    if fig.over:
                        over.append(fig.line(rule.budget).removeprefix("OVER").strip())
            if rule.max_resident_bytes is not None:
                got = (
                    f"resident {sizes.resident_bytes:,} bytes, at most {rule.max_resident_bytes:,}"
                )
                lines.append(got)
                if sizes.resident_bytes > rule.max_resident_bytes:
                    over.append(got)
            if rule.min_mem_available is not None:
                mem = self.census(name).meminfo
                if mem is None or mem.mem_available_bytes is None:
                    raise MissingMeasurement(f"{self.cycle.name}/{name}: no MemAvailable measured")
                got = (
                    f"MemAvailable {mem.mem_available_bytes:,} bytes, "
                    f"at least {rule.min_mem_available:,}"
                )
                lines.append(got)
                if mem.mem_available_bytes < rule.min_mem_available:
                    over.append(got)
            detail = "over: " + "; ".join(over) if over else "within: " + "; ".join(lines)
            return not over, detail, {"limits": lines}

        return self._checked(name, StepName.LIMITS, check)

    def boot_timeline(self, name: str) -> Timeline:
        """Where the candidate's boot time goes (one initcall_debug boot under
        -icount per image and run; kept in its results folder)."""
        built = self.built(name)
        key = ("timeline", name)
        if key not in self.memo:
            digest = built.fingerprint.digest
            got = read_timeline(built.results, self.env.run_id, digest)
            if got is None:
                got = initcall_boot(self.env.target, built, f"{self.cycle.name}/{name}")
                write_timeline(built.results, self.env.run_id, digest, got)
            self.memo[key] = got
        return self.memo[key]

    def _where_slower(self, name: str) -> str:
        try:
            return explain(self.boot_timeline(self.cycle.baseline), self.boot_timeline(name))
        except KqualError as e:  # the verdict stands; only the explanation is missing
            return f"where it grew: not measured ({str(e).splitlines()[0]})"

    def derived_check(self, name: str, step: StepName) -> tuple[bool, str]:
        """An extra step a derivation of the candidate brings (the ENOSYS tripwire...)."""
        owner = next((d for d in self.derivations(name) if step in d.steps), None)
        if owner is None:
            raise ValueError(f"{self.cycle.name}/{name}: no derivation brings step {step.value}")
        return self._checked(name, step, lambda: owner.check(self, name, step))
