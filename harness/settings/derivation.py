"""Derivations: what a candidate adds to its parent, as small registered classes.

In cycles.yaml a candidate lists them: `derive: [trim]`, or with options
`derive: [{prune_syscalls: {keep_reachable: false}}]`. A derivation says
which profiles it needs, what it gives the build (config fragments, make
overrides), what it leaves next to the candidate's results, which extra
steps its candidates must pass (and the pytest parameter that selects them
for those tests), and when a candidate that passed is still at risk.

Adding one is one module in `harness/derive/` that defines a subclass
decorated with @register; every module there is imported, no other edit.
The contract lives here, with the cycles file it is part of.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Protocol

from ..core.errors import ConfigError
from ..core.verdicts import Reason, StepName


@dataclass
class Contribution:
    fragments: list[Path] = field(default_factory=list)  # Kconfig fragments, in order
    make_extra: list[str] = field(default_factory=list)  # make command-line overrides
    # Another candidate whose finished build folder this one starts from (default:
    # its parent's), when that one is closer to what this candidate builds.
    seed: str | None = None
    text_order: str = ""  # linker-script lines placing .text.<fn> sections first


@dataclass(frozen=True)
class Skip:
    """A derivation's word that its candidate is not worth building, and why."""

    reason: Reason
    detail: str

    def __str__(self) -> str:  # as result.json's "skipped" holds it
        return f"{self.reason}: {self.detail}"


class Context(Protocol):
    """What a derivation may ask of the cycle being run (harness.cycle_run.CycleRunner)."""

    cycle: Any
    env: Any
    generated: Path
    memo: dict[Any, Any]  # what derivations compute once per cycle run

    def built(self, name: str) -> Any: ...
    def declare(self, candidate: Any) -> None: ...
    def chain(self, name: str) -> list[Any]: ...
    def candidate(self, name: str) -> Any: ...  # its CandidateDef
    def derivations(self, name: str) -> list[Derivation]: ...  # its chain's, in order
    def spec(self, name: str) -> Any: ...
    def build_name(self, name: str) -> str: ...
    def forget(self, name: str) -> None: ...
    def profile(self, name: str, selector: str) -> Any: ...
    def source(self) -> Any: ...  # the prepared kernel tree (image.kernel_source)
    def syscall_table(self) -> Path: ...
    def reachable(self) -> Any: ...
    def metric(self, name: str) -> float: ...  # guest shell-ready ms (one -icount boot at most)


class Derivation:
    """The contract: override what applies; the defaults add nothing."""

    name: ClassVar[str] = ""
    steps: ClassVar[tuple[StepName, ...]] = ()  # extra steps its candidates must pass
    options: ClassVar[dict[str, type]] = {}  # option name -> type (bool, int, str, float)
    # It can apply once per candidate (one syscall table, one text order): a
    # second in the chain would silently win over the first.
    once: ClassVar[bool] = False
    # Its candidate carries the cycle's search result: the trials run before it.
    carries_search: ClassVar[bool] = False
    # What it adds is no .config option, so a rebuild of the candidate from its
    # options alone (minimal.config) must apply it again.
    beyond_config: ClassVar[bool] = False

    def __init__(self, **opts: Any) -> None:
        self.opts = opts

    def __repr__(self) -> str:
        return f"{self.name}{self.opts or ''}"

    def kconfig_symbols(self) -> list[str]:
        """The Kconfig options it sets by name: each must be a symbol of the kernel,
        which the inputs' check against the kernel source makes sure of."""
        return []

    def selectors(self, cycle: Any) -> list[str]:
        """The profiles (trace selectors) it reads in `cycle`: each must be a selector
        of the trace selectors file, which the cycles file's loader checks."""
        return []

    def prepare(self, ctx: Context) -> None:
        """Work that must be done before its candidate's build can be said (the size
        search runs its trials and their combination here); once per process."""

    def contribute(self, ctx: Context) -> Contribution:
        """What it adds to the candidate's build: cheap, from what prepare() did."""
        return Contribution()

    def leave(self, ctx: Context, out: Path) -> dict[str, Any]:
        """Write its files next to the candidate's results; facts for the record."""
        return {}

    def params(self) -> list[str]:
        """pytest parameters whose tests its candidates get (e.g. a tripwire)."""
        return []

    def check(self, ctx: Context, candidate: str, step: StepName) -> tuple[bool, str, dict]:
        """One of its extra steps: (ok, detail, facts)."""
        raise NotImplementedError(f"derivation {self.name} has no step {step.value}")

    def skip(self, ctx: Context) -> Skip | None:
        """Why its candidates are not built at all, or None."""
        return None

    def risk(self, record: Any) -> str | None:
        """Why a candidate that passed every step is still not safe to ship, or None."""
        return None


REGISTRY: dict[str, type[Derivation]] = {}
DERIVATIONS = "harness.derive"  # the package whose every module defines derivations


def register(cls: type[Derivation]) -> type[Derivation]:
    if not cls.name:
        raise TypeError(f"{cls.__name__} needs a name")
    REGISTRY[cls.name] = cls
    return cls


@cache
def _discover() -> None:
    """Import every module of harness/derive/ once: each registers its derivations.

    By name, not by import: the derivations come later in the flow than the
    cycles file that names them.
    """
    package = importlib.import_module(DERIVATIONS)
    for mod in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{DERIVATIONS}.{mod.name}")


def make(spec: Any, path: Path, line: int | None, where: str) -> Derivation:
    """A derivation from its cycles.yaml form: a name, or {name: {option: value}}."""
    _discover()  # once; a derivation a test registered first must not hide the built-ins
    opts: Any
    if isinstance(spec, str):
        name, opts = spec, {}
    elif isinstance(spec, dict) and len(spec) == 1:
        ((name, opts),) = spec.items()
        opts = opts or {}
        if not isinstance(opts, dict):
            raise ConfigError(path, line, f"{where}: options of '{name}' must be a mapping")
    else:
        raise ConfigError(path, line, f"{where}: a derivation is a name or {{name: {{options}}}}")
    cls = REGISTRY.get(name)
    if cls is None:
        known = ", ".join(sorted(REGISTRY))
        raise ConfigError(path, line, f"{where}: unknown derivation '{name}' (known: {known})")
    for key, value in opts.items():
        kind = cls.options.get(key)
        if kind is None:
            allowed = ", ".join(cls.options) or "none"
            raise ConfigError(path, line, f"{where}: '{name}' has no option '{key}' ({allowed})")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(
                path, line, f"{where}: option '{key}' of '{name}' must be {kind.__name__}"
            )
    try:
        return cls(**opts)
    except ValueError as e:  # a derivation's own check of its option values
        raise ConfigError(path, line, f"{where}: '{name}': {e}") from None
