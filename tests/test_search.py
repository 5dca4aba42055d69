"""The size search's parts: knobs, the Makefile map, proposals, the combination."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.core.errors import ConfigError
from harness.kernel.implemented import lost_syscalls
from harness.search.footprint import Footprint
from harness.search.kbuild_map import KbuildMap, prompted_options
from harness.search.proposals import proposals, trace_changes
from harness.search.search import Budget, SizeSearch
from harness.search.trial import TrialOutcome, Verdict
from harness.settings.change import Change, ChangeSource, combined
from harness.settings.knobs import load_knobs

ROOT = Path(__file__).resolve().parent.parent


# -- knobs --------------------------------------------------------------------
def test_the_shipped_knobs_load():
    changes = load_knobs(ROOT / "configs" / "rules" / "knobs.yaml")
    values = [dict(c.values) for c in changes]
    assert {"KERNEL_LZ4": "y"} in values and {"LOG_BUF_SHIFT": "12"} in values
    assert all(c.why for c in changes)
    assert len({c.digest for c in changes}) == len(changes)


@pytest.mark.parametrize(
    "body, message, line",
    [
        ("  - set: {CONFIG_KALLSYMS: n}\n    why: x\n", "without CONFIG_", 2),
        ("  - set: {KALLSYMS: no}\n    why: x\n", "write y or n", 2),
        ("  - set: {}\n    why: x\n", "'set' is empty", 2),
        ("  - set: {KALLSYMS: n}\n    why: ''\n", "must not be empty", 3),
        (
            "  - set: {KALLSYMS: n}\n    why: a\n  - set: {KALLSYMS: n}\n    why: b\n",
            "already a knob on line 3",
            4,
        ),
        ("  - set: {KALLSYMS: n}\n    why: a\n    expect: 3\n", "unknown key", 4),
    ],
)
def test_bad_knobs_name_file_and_line(write, body, message, line):
    path = write("knobs.yaml", "# knobs\nknobs:\n" + body)
    with pytest.raises(ConfigError, match=message) as info:
        load_knobs(path)
    assert f"{path}:{line + 1}" in str(info.value)


def test_knob_values_become_config_lines(write):
    path = write("k.yaml", 'knobs:\n  - set: {A: 12, B: n, C: y, D: "x"}\n    why: w\n')
    (change,) = load_knobs(path)
    assert change.fragment() == 'CONFIG_A=12\n# CONFIG_B is not set\nCONFIG_C=y\nCONFIG_D="x"\n'


# -- which option builds an object ------------------------------------------------
MAKEFILE = """
obj-y += always.o
obj-$(CONFIG_FOO) += foo.o \\
        foo_extra.o
obj-$(CONFIG_SUB) += sub/
bar-y := bar_main.o bar_util.o
bar-$(CONFIG_BAR_FAST) += bar_fast.o
obj-$(CONFIG_BAR) += bar.o
ifeq ($(CONFIG_TIMERS),y)
obj-y += timers.o
else
obj-y += stubs.o
endif
ifdef CONFIG_DEBUG
obj-y += debug.o
endif
# obj-$(CONFIG_COMMENTED) += gone.o
"""


def test_makefile_map_finds_the_nearest_option():
    kmap = KbuildMap()
    kmap.add_makefile("kernel", MAKEFILE)
    kmap.add_makefile("kernel/sub", "obj-y += inner.o\nobj-$(CONFIG_INNER) += deep.o\n")
    got = {
        o: kmap.option_of(f"kernel/{o}")
        for o in (
            "always.o",
            "foo.o",
            "foo_extra.o",
            "bar_main.o",
            "bar_fast.o",
            "timers.o",
            "stubs.o",
            "debug.o",
            "sub/inner.o",
            "sub/deep.o",
            "gone.o",
        )
    }
    assert got == {
        "always.o": None,
        "foo.o": "FOO",
        "foo_extra.o": "FOO",
        "bar_main.o": "BAR",  # a part of bar.o, which CONFIG_BAR builds
        "bar_fast.o": "BAR_FAST",
        "timers.o": "TIMERS",
        "stubs.o": None,  # the else branch: built when TIMERS is off
        "debug.o": "DEBUG",
        "sub/inner.o": "SUB",  # obj-y in a folder the parent enters with CONFIG_SUB
        "sub/deep.o": "INNER",
        "gone.o": None,
    }


@pytest.mark.needs("kernel")
def test_makefile_map_on_the_real_tree(tmp_path):
    from harness.image.kernel_source import prepare_source
    from harness.settings.target import load_target

    target = load_target(ROOT / "configs" / "boards" / "an385.yaml")
    tree = prepare_source(target, tmp_path).tree  # extracted once, shared with the cycles
    kmap = KbuildMap.from_tree(tree, "arm")
    assert kmap.option_of("kernel/time/posix-timers.o") == "POSIX_TIMERS"
    assert kmap.option_of("fs/binfmt_flat.o") == "BINFMT_FLAT"
    assert kmap.option_of("drivers/leds/led-core.o") == "NEW_LEDS"
    assert kmap.option_of("kernel/fork.o") is None
    prompted = prompted_options(tree)
    assert {"KALLSYMS", "LOG_BUF_SHIFT", "BINFMT_FLAT"} <= prompted
    assert "ZLIB_INFLATE" not in prompted  # selected by what needs it, never asked


# -- proposals -----------------------------------------------------------------------
def test_trace_changes_keep_only_never_run_prompted_options_that_are_on():
    fps = {
        "UNUSED": Footprint("UNUSED", 5000, ["a.o"], 10, []),
        "RAN": Footprint("RAN", 9000, ["b.o"], 10, ["f"]),
        "SMALL": Footprint("SMALL", 100, ["c.o"], 1, []),
        "OFF": Footprint("OFF", 5000, ["d.o"], 3, []),
        "HIDDEN": Footprint("HIDDEN", 5000, ["e.o"], 3, []),
        "NEEDED": Footprint("NEEDED", 5000, ["f.o"], 3, []),
    }
    config = {"UNUSED": "y", "RAN": "y", "SMALL": "y", "OFF": "n", "HIDDEN": "y", "NEEDED": "y"}
    prompted = {"UNUSED", "RAN", "SMALL", "OFF", "NEEDED"}
    got = trace_changes(fps, config, prompted, {"NEEDED": "y"}, 1024)
    assert [c.values for c in got] == [(("UNUSED", "n"),)]
    assert got[0].source == "trace" and got[0].expect_bytes == 5000


def test_proposals_order_by_expected_bytes_and_skip_what_changes_nothing():
    knobs = [
        Change((("A", "12"),), "a", "knob", 100),
        Change((("B", "n"),), "b", "knob", 900),
        Change((("C", "n"),), "c", "knob", 50),  # C is already off
    ]
    traced = [Change((("B", "n"),), "t", "trace", 5000), Change((("D", "n"),), "d", "trace", 300)]
    ordered, skipped = proposals(knobs, traced, {"A": "16", "B": "y", "C": "n", "D": "y"})
    assert [c.values[0][0] for c in ordered] == ["B", "D", "A"]
    assert ordered[0].source == "knob"  # the knob wins over the same option from the trace
    assert {c.values[0][0]: why for c, why in skipped} == {
        "C": "the base already has this value",
        "B": "overlaps the knob B=n",
    }


def test_combined_values_later_wins():
    a = Change((("A", "y"), ("B", "n")))
    b = Change((("B", "y"),))
    assert combined([a, b]) == (("A", "y"), ("B", "y"))
    assert Change((("A", "y"), ("B", "n"))).digest == Change((("B", "n"), ("A", "y"))).digest


# -- the combination -------------------------------------------------------------
class _FakeSearch(SizeSearch):
    """Trials answered from a table; a combination fails when it holds a bad pair
    (with what earlier rounds accepted); `later[i]` is what round i+2 proposes."""

    def __init__(self, outcomes, bad_pairs, later=(), budget=None):
        self.budget = Budget(budget or len(outcomes) + sum(len(x) for x in later))
        self._proposals = [_as_change(o) for o in outcomes]
        self._skipped = []
        self._result = None
        self._rounds, self._finished, self._over = [], {}, False
        self.spec = type("Spec", (), {"base": "base"})()
        self.cycle = type("Cycle", (), {"name": "size_search"})()
        self._given = {_as_change(o).digest: o for o in [*outcomes, *(o for x in later for o in x)]}
        self._later = list(later)
        self._bad = bad_pairs
        self.again = {}  # change digest -> its outcome when tried again in a later round
        self.tried = []  # the options of each combination built, this round's only
        self.asked: list[tuple[str, str]] = []  # (trial name, its base) as run
        self.proposed_on: list[str] = []

    def _load_proposals(self, base, prior):
        self.proposed_on.append(base)
        i = len(self._rounds) - 1  # round i+2 is being proposed
        return ([_as_change(o) for o in self._later[i]] if i < len(self._later) else []), []

    def _outcome(self, change, name, values, rnd, wait=True):
        if change.source != ChangeSource.COMBINATION:
            self.asked.append((name, rnd.base))
            outcome = self._given[change.digest]
            if rnd.number > 1 and change.digest in self.again:
                outcome = self.again[change.digest]
            outcome.round = rnd.number
            return outcome
        options = {k for k, _ in values}
        self.tried.append(sorted(options))
        bad = any(set(p) <= options | {k for k, _ in rnd.prior} for p in self._bad)
        saved = sum(self._given[Change(((k, v),)).digest].saved_bytes for k, v in values)
        return TrialOutcome(
            change.label,
            [list(v) for v in values],
            Verdict.REGRESSION if bad else Verdict.ACCEPTED,
            source=ChangeSource.COMBINATION,
            saved_bytes=saved,
        )


def _as_change(o):
    return Change(tuple((k, v) for k, v in o.values))


def _accepted(option, saved):
    return TrialOutcome(f"{option}=n", [[option, "n"]], Verdict.ACCEPTED, saved_bytes=saved)


def test_combination_that_passes_is_built_once():
    s = _FakeSearch([_accepted("A", 300), _accepted("B", 200), _accepted("C", 100)], [])
    r = s.result()
    assert [o.label for o in r.accepted] == ["A=n", "B=n", "C=n"]
    assert s.tried == [["A", "B", "C"]]
    assert r.seed and r.seed.startswith("combo-")


def test_a_pair_that_fails_together_is_bisected_and_the_smaller_saving_dropped():
    trials = [_accepted("A", 400), _accepted("B", 300), _accepted("C", 200), _accepted("D", 100)]
    rejected = TrialOutcome("E=n", [["E", "n"]], Verdict.BOOT_FAILURE, "panic")
    s = _FakeSearch([*trials, rejected], bad_pairs=[("B", "D")])
    r = s.result()
    assert [o.label for o in r.accepted] == ["A=n", "B=n", "C=n"]
    assert r.failed_together == ["D=n"]
    assert dict(r.values) == {"A": "n", "B": "n", "C": "n"}
    # all four, then halves added to what passed; a set tried twice is built once
    assert s.tried == [["A", "B", "C", "D"], ["A", "B"], ["A", "B", "C"]]


def test_nothing_accepted_leaves_the_base_alone():
    s = _FakeSearch(
        [TrialOutcome("A=n", [["A", "n"]], Verdict.NO_EFFECT, "olddefconfig kept A=y")], []
    )
    r = s.result()
    assert r.accepted == [] and r.values == () and r.seed is None and s.tried == []


def test_budget_limits_the_slots():
    s = _FakeSearch([_accepted("A", 3), _accepted("B", 2), _accepted("C", 1)], [])
    s.budget = Budget(2)
    assert s.slots() == 2
    assert [o.label for o in s.result().accepted] == ["A=n", "B=n"]
    assert Budget(1, deadline=0.0).expired() and not Budget(1).expired()


# -- rounds ------------------------------------------------------------------------
def _rejected(option):
    return TrialOutcome(f"{option}=n", [[option, "n"]], Verdict.BOOT_FAILURE, "panic")


def test_each_round_starts_from_the_last_ones_best_until_nothing_is_left_to_propose():
    a, b, c = _accepted("A", 300), _accepted("B", 200), _accepted("C", 50)
    s = _FakeSearch(
        [a, b, _rejected("X")],
        [],
        # round 2 proposes A again (tried once only), C and D; round 3 E and F
        later=[[a, c, _rejected("D")], [_accepted("E", 10)]],
    )
    r = s.result()
    first_best = f"combo-{Change((('A', 'n'), ('B', 'n'))).digest[:10]}"
    prior = Change((("A", "n"), ("B", "n"))).digest[:6]
    second_best = f"r2-{prior}-{_as_change(c).slug}"
    assert s.proposed_on == [first_best, second_best, r.seed]  # round 4: nothing left
    assert sorted(s.asked[3:]) == sorted(
        [
            (second_best, first_best),
            (f"r2-{prior}-D-{Change((('D', 'n'),)).digest[:6]}", first_best),
            (
                f"r3-{Change((('A', 'n'), ('B', 'n'), ('C', 'n'))).digest[:6]}-E-"
                f"{Change((('E', 'n'),)).digest[:6]}",
                second_best,
            ),
        ]
    )
    assert [o.label for o in r.accepted] == ["A=n", "B=n", "C=n", "E=n"]
    assert dict(r.values) == {"A": "n", "B": "n", "C": "n", "E": "n"}
    assert [(x["round"], x["trials"], x["accepted"]) for x in r.rounds] == [
        (1, 3, ["A=n", "B=n"]),
        (2, 2, ["C=n"]),
        (3, 1, ["E=n"]),
    ]
    assert [o.round for o in r.outcomes] == [1, 1, 1, 2, 2, 3]
    # a lone passing trial is its round's best: no combination is built for it
    assert s.tried == [["A", "B"]]
    assert r.seed.startswith("r3-")


def test_a_round_that_accepts_nothing_proposes_no_further_round():
    s = _FakeSearch([_accepted("A", 300)], [], later=[[_rejected("B")], [_accepted("C", 10)]])
    r = s.result()
    assert len(s.proposed_on) == 1  # after round 1; round 2 kept nothing: no round 3
    assert [x["round"] for x in r.rounds] == [1, 2]
    assert [o.label for o in r.accepted] == ["A=n"]
    assert r.seed == f"trial-{Change((('A', 'n'),)).slug}"


def test_a_change_that_fails_only_with_an_earlier_rounds_options_is_dropped():
    s = _FakeSearch(
        [_accepted("A", 300)], [("A", "C")], later=[[_accepted("B", 20), _accepted("C", 10)]]
    )
    r = s.result()
    assert [o.label for o in r.accepted] == ["A=n", "B=n"]
    assert r.failed_together == ["C=n"]
    # B and C fail together (C with round 1's A); B alone passed as its trial,
    # and B with C again is the same combination: built once
    assert s.tried == [["B", "C"]]


def test_the_budget_counts_trials_across_rounds():
    s = _FakeSearch(
        [_accepted("A", 300), _accepted("B", 200)],
        [],
        later=[[_accepted("C", 50), _accepted("D", 40)]],
        budget=3,
    )
    assert s.slots() == 2
    assert s.trial(2).label == "C=n"  # slot 2 is round 2's first: round 1 ran first
    assert s.trial(3) is None
    r = s.result()
    assert [o.label for o in r.outcomes] == ["A=n", "B=n", "C=n"]
    assert [x["trials"] for x in r.rounds] == [2, 1]


def _slow(option, guest_ms):
    return TrialOutcome(
        f"{option}=y",
        [[option, "y"]],
        Verdict.REGRESSION,
        f"{guest_ms} ms against the baseline's 61.8 ms",
        saved_bytes=200_000,
        guest_ms=guest_ms,
    )


def _timed(outcome, guest_ms):
    outcome.guest_ms = guest_ms
    return outcome


class _BaseTime:
    """The search's base boots in 57 ms of guest time."""

    def metric(self, name):
        assert name == "base"
        return 57.0


def test_a_change_rejected_for_time_alone_is_tried_again_on_a_faster_base():
    z, lz = _slow("Z", 70.0), _slow("LZ", 90.0)
    a = _timed(_accepted("A", 300), 50.0)  # round 1's best: 7 ms faster than its base
    s = _FakeSearch([z, lz, a, _rejected("X")], [], later=[[_accepted("C", 10)], []], budget=9)
    s.runner = _BaseTime()
    s.again = {
        _as_change(z).digest: _timed(
            TrialOutcome("Z=y", [["Z", "y"]], Verdict.ACCEPTED, saved_bytes=200_000), 62.0
        )
    }
    r = s.result()
    prior = Change((("A", "n"),)).digest[:6]
    # round 2: what is new first, then both regressions (the boot failure is not
    # retried); a retry counts against the budget like any trial
    assert [c.label for c in s._rounds[1].changes] == ["C=n", "Z=y", "LZ=y"]
    assert sorted(n for n, _ in s.asked[4:]) == sorted(
        f"r2-{prior}-{_as_change(c).slug}" for c in (_accepted("C", 10), z, lz)
    )
    assert [o.label for o in r.accepted] == ["A=n", "Z=y", "C=n"]  # by saving
    # tried in both rounds (the fake answers with one object: its round is the last)
    assert [o.verdict for o in r.outcomes if o.label == "LZ=y"] == [Verdict.REGRESSION] * 2
    # round 3's base (round 2's combination) has no faster time to offer: no retry
    assert len(r.rounds) == 2


def test_a_regression_is_not_tried_again_on_a_base_that_is_no_faster():
    a = _timed(_accepted("A", 300), 57.0)  # as slow as the search's base
    s = _FakeSearch([_slow("Z", 70.0), a], [], later=[[_accepted("C", 10)], []], budget=9)
    s.runner = _BaseTime()
    r = s.result()
    assert [o.label for o in r.outcomes] == ["Z=y", "A=n", "C=n"]


# -- reachable syscalls a change turns off -----------------------------------------
class _Runner:
    def __init__(self, table, numbers):
        self._table = table
        self._numbers = numbers

    def syscall_table(self):
        return self._table

    def reachable(self):
        return type("Scan", (), {"numbers": self._numbers})()


def test_lost_syscalls_are_the_reachable_ones_the_base_implements(write):
    table = write(
        "syscall.tbl",
        """
        1 common exit sys_exit
        2 common timerfd_create sys_timerfd_create
        3 common futex sys_futex
        4 common oldcall sys_ni_syscall
        5 common unreached sys_unreached
        """,
    )
    common = "1000 T sys_ni_syscall\n2000 T sys_exit\n1000 W sys_futex\n"
    base = write("base.map", common + "3000 T sys_timerfd_create\n3100 T sys_unreached\n")
    trial = write("trial.map", common + "1000 W sys_timerfd_create\n1000 W sys_unreached\n")
    runner = _Runner(table, {1, 2, 3, 4})
    # futex was already sys_ni_syscall in the base: not lost; 5 is not reachable.
    assert lost_syscalls(runner, trial, base) == ["timerfd_create (2)"]
    assert lost_syscalls(runner, base, base) == []


# -- resuming -------------------------------------------------------------------
class _CachedSearch(SizeSearch):
    """The real outcome cache and locks, in a temporary folder; evaluation stubbed."""

    def __init__(self, folder, changes, evaluate, later=()):
        self._folder = folder
        self.budget = Budget(len(changes) + sum(len(x) for x in later))
        self._proposals = changes
        self._later = list(later)
        self._skipped = []
        self._result = None
        self._rounds, self._finished, self._over = [], {}, False
        self.cycle = type("Cycle", (), {"name": "size_search", "extra": []})()
        self.spec = type("Spec", (), {"base": "base"})()
        target = type("Target", (), {"fragment_paths": []})()
        self.runner = type("Runner", (), {"env": type("Env", (), {"target": target})()})()
        self._evaluate = evaluate
        self.declared: list[str] = []

    def folder(self):
        return self._folder

    def _declare(self, name, values, base):
        self.declared.append(name)

    def _load_proposals(self, base, prior):
        i = len(self._rounds) - 1
        return (self._later[i] if i < len(self._later) else []), []


def test_an_interrupted_search_resumes_and_a_rerun_evaluates_nothing(tmp_path, monkeypatch):
    import harness.search.search as search_mod

    changes = [Change(((o, "n"),), o) for o in ("A", "B", "C")]
    ran: list[str] = []

    def evaluate(runner, name, base, label, values, source, why):
        if label == "B=n" and not ran.count("interrupted"):
            ran.append("interrupted")
            raise KeyboardInterrupt  # the session is stopped in the middle of trial B
        ran.append(label)
        return TrialOutcome(
            label, values, Verdict.ACCEPTED, saved_bytes=10, saved_sections={"text": 10}
        )

    monkeypatch.setattr(search_mod, "timed_evaluate", evaluate)
    first = _CachedSearch(tmp_path, changes, evaluate)
    assert first.trial(0).label == "A=n"
    with pytest.raises(KeyboardInterrupt):
        first.trial(1)
    assert ran == ["A=n", "interrupted"]
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [f"trial-{changes[0].slug}.json"]

    again = _CachedSearch(tmp_path, changes, evaluate)  # a new session
    assert [again.trial(i).verdict for i in range(3)] == [Verdict.ACCEPTED] * 3
    assert ran == ["A=n", "interrupted", "B=n", "C=n"]  # A came from the cache

    rerun = _CachedSearch(tmp_path, changes, evaluate)
    assert [rerun.trial(i).label for i in range(3)] == ["A=n", "B=n", "C=n"]
    assert ran == ["A=n", "interrupted", "B=n", "C=n"]  # nothing evaluated again
    # Outcomes read from the cache still declare their candidates: the result's
    # seed (the combination) names one, and its build folder follows from it.
    result = rerun.result()
    assert result.seed and result.seed.startswith("combo-")
    assert result.seed in rerun.declared
    assert len(set(rerun.declared)) == 4  # three trials and the combination


def test_rounds_do_not_depend_on_which_worker_runs_which_slot(tmp_path, monkeypatch):
    """Worker 1 asks for a round-2 slot first, worker 2 for the slots in order,
    with one trial held by worker 2 meanwhile: both get the same outcomes and
    result, every trial and combination is evaluated once, and worker 1 runs
    round 1's free trials (last slot first) before it waits for the held one."""
    from filelock import FileLock

    import harness.search.search as search_mod

    first = [Change(((o, "n"),), o) for o in ("A", "B", "C")]
    later = [[Change((("D", "n"),), "d"), Change((("E", "n"),), "e")]]
    ran: list[str] = []
    held = FileLock(str(tmp_path / f"trial-{first[1].slug}.json.lock"))

    def evaluate(runner, name, base, label, values, source, why):
        ran.append(label)
        if label == "C=n":  # worker 2 finishes B while worker 1 was on C
            write = search_mod.write_atomic
            b = TrialOutcome("B=n", [["B", "n"]], Verdict.ACCEPTED, saved_bytes=20)
            write(
                tmp_path / f"trial-{first[1].slug}.json",
                search_mod.jsonfile.dumps("trial", b.as_json()),
            )
            held.release()
        saved = {"A=n": 30, "C=n": 10, "D=n": 5}.get(label, 60 if "," in label else 0)
        verdict = Verdict.ACCEPTED if saved else Verdict.BOOT_FAILURE
        return TrialOutcome(
            label, values, verdict, "" if saved else "panic", source, why, saved_bytes=saved or None
        )

    monkeypatch.setattr(search_mod, "timed_evaluate", evaluate)
    held.acquire()
    one = _CachedSearch(tmp_path, first, evaluate, later)
    assert one.trial(3).label == "D=n"  # round 2's first slot
    assert ran == ["C=n", "A=n", "A=n, B=n, C=n", "D=n"]  # last first; B from worker 2
    two = _CachedSearch(tmp_path, first, evaluate, later)
    got = [two.trial(i) for i in range(5)]
    assert [o.label for o in got] == ["A=n", "B=n", "C=n", "D=n", "E=n"]
    assert [o.round for o in got] == [1, 1, 1, 2, 2]
    assert ran == ["C=n", "A=n", "A=n, B=n, C=n", "D=n", "E=n"]  # only E was new
    a, b = one.result(), two.result()
    assert a.as_json() == b.as_json()
    assert dict(a.values) == {"A": "n", "B": "n", "C": "n", "D": "n"}


def test_a_spent_time_budget_runs_no_new_trial_and_caches_nothing(tmp_path, monkeypatch):
    import harness.search.search as search_mod

    monkeypatch.setattr(search_mod, "timed_evaluate", lambda *a: pytest.fail("evaluated"))
    s = _CachedSearch(tmp_path, [Change((("A", "n"),), "a")], None)
    s.budget = Budget(1, deadline=0.0)
    outcome = s.trial(0)
    assert outcome.verdict == "budget"
    assert not list(tmp_path.glob("*.json"))


def test_the_search_runs_in_its_own_step_not_while_the_build_is_said():
    """Derivation `search`: prepare() runs the trials and the combination;
    contribute() only reads what prepare() found, and says so when it did not run."""
    from types import SimpleNamespace

    from harness.derive.search import Search

    fake = _FakeSearch([_accepted("A", 100), _accepted("B", 50)], [])
    ctx = SimpleNamespace(memo={"size_search": fake})
    derivation = Search()
    with pytest.raises(RuntimeError, match="before it ran"):
        derivation.result(ctx)
    assert fake.tried == []  # asking for the result ran nothing
    derivation.prepare(ctx)
    assert [o.label for o in derivation.result(ctx).accepted] == ["A=n", "B=n"]
    assert fake.tried == [["A", "B"]]


def test_trial_cost_is_the_mean_trial_build_against_a_full_build():
    from harness.search.report import FullBuild, trial_cost

    def trial(secs):
        o = TrialOutcome("X=n", [["X", "n"]], Verdict.ACCEPTED)
        o.build_seconds = secs
        return o

    cost = trial_cost([trial(40.0), trial(20.0), trial(None)], FullBuild("baseline", 240.0))
    assert (cost.mean_seconds, cost.trials, cost.ratio) == (30.0, 2, 0.125)
    assert "mean kernel build 30 s over 2 trials, against 240 s for baseline" in cost.line
    assert "0.12 of a full build" in cost.line and cost.as_json()["ratio"] == 0.125
    assert "no full build of the baseline was timed" in trial_cost([trial(40.0)], None).line
    assert "no trial's kernel was built" in trial_cost([trial(None)], None).line
    back = TrialOutcome.from_json(trial(40.0).as_json())
    assert back.build_seconds == 40.0


def test_minimal_patches_pin_each_patch_by_its_digest(tmp_path):
    import hashlib

    from harness.search.report import minimal_patches

    a, b = tmp_path / "0001-a.patch", tmp_path / "0002-b.patch"
    a.write_text("--- a\n")
    b.write_text("--- b\n")
    text = minimal_patches("6.12.118", [a, b])
    lines = text.splitlines()
    assert "Linux 6.12.118" in lines[0]
    assert lines[2:] == [
        f"{hashlib.sha256(b'--- a' + bytes([10])).hexdigest()}  0001-a.patch",
        f"{hashlib.sha256(b'--- b' + bytes([10])).hexdigest()}  0002-b.patch",
    ]


def test_a_knob_that_needs_our_patch_is_left_out_on_a_tree_without_it(write):
    from harness.search.proposals import patched_knobs
    from harness.settings.knobs import load_knobs

    path = write(
        "knobs.yaml",
        """
        knobs:
          - set: {UNWINDER_NONE: y}
            needs: unwinder_none
            why: from our patch
          - set: {KALLSYMS: n}
            why: plain
        """,
    )
    knobs = load_knobs(path, symbols={"KALLSYMS"})  # the option is the patch's: no error
    assert knobs[0].needs == "unwinder_none"
    usable, unmet = patched_knobs(knobs, lambda feature: False)
    assert [k.label for k in usable] == ["KALLSYMS=n"]
    assert unmet[0][0].label == "UNWINDER_NONE=y" and "did not take" in unmet[0][1]
    usable, unmet = patched_knobs(knobs, lambda feature: feature == "unwinder_none")
    assert len(usable) == 2 and not unmet


def test_a_knob_needing_an_unknown_patch_feature_names_it(write):
    from harness.settings.knobs import load_knobs

    path = write(
        "knobs.yaml",
        """
        knobs:
          - set: {X: y}
            needs: wishful
            why: no such patch
        """,
    )
    with pytest.raises(ConfigError, match=r"knobs.yaml:2: needs: 'wishful' is no feature"):
        load_knobs(path)


def test_what_judges_a_trial_keys_its_cached_outcome(monkeypatch, tmp_path):
    """Another accept_losses list or tolerance must not read the old verdicts."""
    from types import SimpleNamespace

    from harness.core.fingerprint import Fingerprint
    from harness.settings.cycles import RegressionRule

    monkeypatch.setenv("KQUAL_CACHE", str(tmp_path))

    def folder(accept, tolerance):
        cycle = SimpleNamespace(
            name="size_search",
            search=SimpleNamespace(base="base"),
            accept_losses=accept,
            regression=RegressionRule(tolerance=tolerance),
        )
        runner = SimpleNamespace(
            cycle=cycle,
            built=lambda name: SimpleNamespace(fingerprint=Fingerprint().add_text("x", "1")),
            env=SimpleNamespace(
                workload=SimpleNamespace(sha256="w"), target=SimpleNamespace(name="t")
            ),
        )
        return SizeSearch(runner, Budget(1)).folder()

    same = folder(["/proc/net", "/sys/kernel/slab"], 0.02)
    assert folder(["/sys/kernel/slab", "/proc/net"], 0.02) == same  # order is no change
    assert folder(["/proc/net"], 0.02) != same
    assert folder(["/proc/net", "/sys/kernel/slab"], 0.05) != same
