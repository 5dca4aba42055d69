from __future__ import annotations

import pytest

from harness.config_trim import decide, load_rules, render_fragment
from harness.errors import ConfigError
from harness.kconfig import parse_fragment
from harness.symbols import Function, SymbolTable

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
          - {option: NFS_FS, symbols: "^(init_)?nfs", max_hits: 5, min_bytes: 20000, why: no NFS}
          - {option: NEW_LEDS, symbols: "^led_", max_hits: 0, min_bytes: 1000}
          - {option: TINY, symbols: "^led_", max_hits: 1000, min_bytes: 100000}
    """,
        )
    )


def test_decisions_count_runtime_hits_only(rules):
    hits = {"nfs_read": 3, "init_nfs_fs": 500, "led_trigger_event": 40}
    d = {x.rule.option: x for x in decide(rules, hits, SYMS)}
    assert (d["NFS_FS"].runtime_hits, d["NFS_FS"].code_bytes, d["NFS_FS"].functions) == (
        3,
        40000,
        2,
    )
    assert d["NFS_FS"].disable  # 3 <= 5 hits, 40000 >= 20000 bytes; init hits ignored
    assert not d["NEW_LEDS"].disable  # used at runtime
    assert not d["TINY"].disable  # too small to bother


def test_fragment_says_why_and_parses(rules, tmp_path):
    hits = {"nfs_read": 3, "led_trigger_event": 40}
    text = render_fragment(decide(rules, hits, SYMS), "profile full/abc")
    frag = tmp_path / "gen.config"
    frag.write_text(text)
    reqs = parse_fragment(frag)
    assert [(r.name, r.value) for r in reqs] == [("NFS_FS", "n")]
    lines = text.splitlines()
    i = lines.index("# CONFIG_NFS_FS is not set")
    assert lines[i - 1].startswith("# NFS_FS disabled: 3 runtime hits") and "no NFS" in lines[i - 1]
    assert any(ln.startswith("# NEW_LEDS kept: 40 runtime hits") for ln in lines)


@pytest.mark.parametrize(
    "body,message",
    [
        (
            'rules:\n  - {option: CONFIG_X, symbols: "a", max_hits: 0, min_bytes: 0}\n',
            "without CONFIG_",
        ),
        ('rules:\n  - {option: X, symbols: "(", max_hits: 0, min_bytes: 0}\n', "bad regex"),
        (
            'rules:\n  - {option: X, symbols: "a", max_hits: lots, min_bytes: 0}\n',
            "must be an integer",
        ),
    ],
)
def test_bad_rules_name_file_and_line(write, body, message):
    p = write("rules.yaml", body)
    with pytest.raises(ConfigError, match=rf"rules.yaml:2: .*{message}"):
        load_rules(p)
