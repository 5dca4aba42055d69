from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.kernel.kconfig import (
    ConfigNotAppliedError,
    apply_requests,
    check_applied,
    effective_requests,
    parse_config,
    parse_fragment,
)


def test_parse_fragment_keeps_file_and_line(write):
    f = write(
        "a.config",
        """
        # comment
        CONFIG_A=y

        # CONFIG_B is not set
        CONFIG_C="x y"
        CONFIG_D=0x10
    """,
    )
    reqs = parse_fragment(f)
    assert [(r.name, r.value, r.line) for r in reqs] == [
        ("A", "y", 2),
        ("B", "n", 4),
        ("C", '"x y"', 5),
        ("D", "0x10", 6),
    ]
    assert reqs[1].where == f"{f}:4"
    assert str(reqs[1]) == "# CONFIG_B is not set"


def test_bad_fragment_line_is_an_error_with_line(write):
    f = write("bad.config", "CONFIG_A=y\nCONFIG_B y\n")
    with pytest.raises(ConfigError, match=r"bad.config:2: not a Kconfig line"):
        parse_fragment(f)


def test_later_fragment_wins(write):
    a = write("a.config", "CONFIG_A=y\nCONFIG_B=y\n")
    b = write("b.config", "# CONFIG_A is not set\n")
    merged = effective_requests([a, b])
    assert merged["A"].value == "n" and merged["A"].path == b
    assert merged["B"].value == "y"


def test_check_applied_names_each_option_that_did_not_stick(write):
    frag = write(
        "f.config",
        """
        CONFIG_GOOD=y
        CONFIG_DROPPED=y
        # CONFIG_OFF is not set
        CONFIG_STILL_ON_WANTED_OFF=n
        CONFIG_VAL=16
        CONFIG_TYPO_SYMBOL=y
    """,
    )
    cfg = write(
        ".config",
        """
        CONFIG_GOOD=y
        # CONFIG_DROPPED is not set
        CONFIG_STILL_ON_WANTED_OFF=y
        CONFIG_VAL=14
    """,
    )
    reqs = effective_requests([frag])
    symbols = {"GOOD", "DROPPED", "OFF", "STILL_ON_WANTED_OFF", "VAL"}
    bad = check_applied(reqs, parse_config(cfg), symbols)
    assert [m.request.name for m in bad] == ["DROPPED", "STILL_ON_WANTED_OFF", "VAL", "TYPO_SYMBOL"]
    text = str(ConfigNotAppliedError(bad, cfg))
    assert f"{frag}:2: asked for CONFIG_DROPPED=y, got not set" in text
    assert f"{frag}:5: asked for CONFIG_VAL=16, got =14" in text
    assert f"{frag}:6: CONFIG_TYPO_SYMBOL is not a Kconfig symbol" in text


def test_apply_requests_overwrites_and_appends(write):
    cfg = write(".config", "# CONFIG_A is not set\nCONFIG_B=y\n")
    frag = write("f.config", "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=1\n")
    apply_requests(cfg, effective_requests([frag]))
    assert parse_config(cfg) == {"A": "y", "B": "n", "C": "1"}
