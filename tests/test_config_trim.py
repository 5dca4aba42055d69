from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.derive.config_trim import decide, render_fragment
from harness.kernel.kconfig import parse_fragment
from harness.settings.trim_rules import load_rules
from harness.trace.symbols import Function, SymbolTable

SYMS = SymbolTable(
    [
        Function("nfs_read", 0x1000, 30000),
        Function("nfs_write", 0x9000, 10000),
        Function("init_nfs_fs", 0x20000, 5000, ".init.text"),
        Function("led_trigger_event", 0x30000, 3000),
    ]
)


@pytest.fixture
def rules(write):
    return load_rules(
        write(
            "rules.yaml",
            """
        rules:
          - {option: NFS_FS, symbols: "^(init_)?nfs", max_functions: 1, min_bytes: 20000,
             why: no NFS}
          - {option: NEW_LEDS, symbols: "^led_", max_functions: 0, min_bytes: 1000}
          - {option: TINY, symbols: "^led_", max_functions: 1000, min_bytes: 100000}
    """,
        )
    )


def test_decisions_count_runtime_functions_only(rules):
    hits = {"nfs_read": 3, "init_nfs_fs": 500, "led_trigger_event": 40}
    d = {x.rule.option: x for x in decide(rules, hits, SYMS)}
    nfs = d["NFS_FS"]
    assert (nfs.runtime_functions, nfs.runtime_hits, nfs.code_bytes, nfs.functions) == (
        1,
        3,
        40000,
        2,
    )
    assert nfs.disable  # 1 <= 1 function ran, 40000 >= 20000 bytes; init ignored
    assert not d["NEW_LEDS"].disable  # used at runtime
    assert not d["TINY"].disable  # too small to bother


def test_a_timer_that_ran_longer_changes_nothing(rules):
    """Hits of one periodic function grow with the trace's length; the decision must not."""
    short = decide(rules, {"nfs_read": 1}, SYMS)
    long = decide(rules, {"nfs_read": 30000}, SYMS)
    assert [x.disable for x in short] == [x.disable for x in long]
    assert "NFS_FS" in {x.rule.option for x in long if x.disable}  # 30000 hits, one function


def test_fragment_says_why_and_parses(rules, tmp_path):
    hits = {"nfs_read": 3, "led_trigger_event": 40}
    text = render_fragment(decide(rules, hits, SYMS), "profile full/abc")
    frag = tmp_path / "gen.config"
    frag.write_text(text)
    reqs = parse_fragment(frag)
    assert [(r.name, r.value) for r in reqs] == [("NFS_FS", "n")]
    lines = text.splitlines()
    i = lines.index("# CONFIG_NFS_FS is not set")
    assert lines[i - 1].startswith("# NFS_FS disabled: 1 functions on") and "no NFS" in lines[i - 1]
    assert any(ln.startswith("# NEW_LEDS kept: 1 functions on /^led_/ ran") for ln in lines)


@pytest.mark.parametrize(
    "body,message",
    [
        (
            'rules:\n  - {option: CONFIG_X, symbols: "a", max_functions: 0, min_bytes: 0}\n',
            "without CONFIG_",
        ),
        ('rules:\n  - {option: X, symbols: "(", max_functions: 0, min_bytes: 0}\n', "bad regex"),
        (
            'rules:\n  - {option: X, symbols: "a", max_functions: lots, min_bytes: 0}\n',
            "must be an integer",
        ),
    ],
)
def test_bad_rules_name_file_and_line(write, body, message):
    p = write("rules.yaml", body)
    with pytest.raises(ConfigError, match=rf"rules.yaml:2: .*{message}"):
        load_rules(p)
