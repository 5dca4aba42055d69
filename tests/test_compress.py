"""A zImage candidate: chosen by its compressor option (the compress derivation,
a search knob or minimal.config), its build folder and fingerprint."""

from __future__ import annotations

import pytest

from harness.core.errors import ConfigError
from harness.cycle_run import CycleRunner
from harness.image.candidate import definition_key
from harness.settings.cycles import load_cycles
from tests.test_derivation import _environment


@pytest.fixture
def zimage_cycle(write):
    return write(
        "cycles.yaml",
        """
        cycles:
          mine:
            candidates:
              - name: base
              - name: small
                from: base
                derive: [{options: {set: {LOG_BUF_SHIFT: 12}}}]
              - name: small-lz4
                from: small
                derive: [{compress: {method: lz4}}]
              - name: after
                from: small-lz4
        """,
    )


def test_a_compressed_candidate_builds_a_zimage_of_its_parents_kernel(
    zimage_cycle, tmp_path, monkeypatch
):
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    runner = CycleRunner(_environment(tmp_path), load_cycles(zimage_cycle)["mine"])
    small, lz4, after = (runner.spec(n) for n in ("small", "small-lz4", "after"))
    assert (small.boot_image, lz4.boot_image, after.boot_image) == ("", "zImage", "zImage")
    assert lz4.fragments[:-1] == small.fragments
    assert lz4.fragments[-1].read_text() == "CONFIG_KERNEL_LZ4=y\n"
    assert lz4.seed == runner.build_name("small")  # only arch/arm/boot/compressed builds
    assert definition_key(lz4) not in (definition_key(small), runner.build_name("base"))
    d = runner.derivations("small-lz4")[-1]
    # minimal.config holds the choice, and the choice asks for the zImage:
    # nothing to apply again when it is rebuilt from scratch
    assert not d.beyond_config and d.kconfig_symbols() == ["KERNEL_LZ4"]


def test_a_compressor_option_set_like_a_search_trial_boots_the_zimage(write, tmp_path, monkeypatch):
    path = write(
        "cycles.yaml",
        """
        cycles:
          mine:
            candidates:
              - name: base
              - name: trial
                from: base
                derive: [{options: {set: {KERNEL_LZ4: y}}}]
              - name: plain
                from: base
                derive: [{options: {set: {KERNEL_LZ4: n}}}]
        """,
    )
    monkeypatch.setenv("KQUAL_WORK", str(tmp_path / "work"))
    runner = CycleRunner(_environment(tmp_path), load_cycles(path)["mine"])
    assert [runner.spec(n).boot_image for n in ("base", "trial", "plain")] == ["", "zImage", ""]


@pytest.mark.parametrize(
    "text,boot",
    [
        ("CONFIG_KERNEL_LZ4=y\n", "zImage"),
        ("CONFIG_X=y\nCONFIG_KERNEL_XZ=y   \n", "zImage"),
        ("# CONFIG_KERNEL_LZ4 is not set\n", ""),
        ("CONFIG_KERNEL_LZ4=n\n", ""),
        ("CONFIG_HAVE_KERNEL_LZ4=y\n", ""),  # the arch's capability, not the choice
        ("CONFIG_KERNEL_LZ4_EXTRA=y\n", ""),
    ],
)
def test_only_a_chosen_compressor_asks_for_the_zimage(tmp_path, text, boot):
    from harness.image.kernel_build import boot_image_for

    frag = tmp_path / "f.config"
    frag.write_text(text)
    assert boot_image_for([frag]) == boot


def test_the_boot_image_is_in_the_folder_name_only_when_it_is_a_zimage(tmp_path):
    """The plain Image's builds keep the folder names (and ccache-warm folders) they had."""
    from harness.image import build_folders

    frag = tmp_path / "a.config"
    frag.write_text("CONFIG_X=y\n")
    plain = build_folders.definition_key([frag], [], "")
    assert build_folders.definition_key([frag], [], "", "") == plain
    assert build_folders.definition_key([frag], [], "", "zImage") != plain


@pytest.mark.parametrize(
    "derive,message",
    [
        ("[{compress: {method: bzip2}}]", "'compress': method 'bzip2' is no kernel compressor"),
        ("[{compress: {method: 4}}]", "option 'method' of 'compress' must be str"),
        ("[{compress: {level: 9}}]", "'compress' has no option 'level'"),
    ],
)
def test_a_bad_compressor_names_the_line(write, derive, message):
    path = write(
        "cycles.yaml",
        f"""
        cycles:
          mine:
            candidates:
              - name: base
              - name: x
                from: base
                derive: {derive}
        """,
    )
    with pytest.raises(ConfigError, match=message) as info:
        load_cycles(path)
    assert info.value.line == 7
