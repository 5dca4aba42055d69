from __future__ import annotations

import pytest

SWI = 0x21008140


def dump(pc: int, r7: int, *, crlf: bool = False) -> str:
    nl = "\r\n" if crlf else "\n"
    return (
        nl.join(
            [
                "R00=00000000 R01=00000001 R02=00000002 R03=00000003",
                f"R04=00000004 R05=00000005 R06=00000006 R07={r7:08x}",
                "R08=00000008 R09=00000009 R10=0000000a R11=0000000b",
                f"R12=0000000c R13=21417ff8 R14=fffffffd R15={pc:08x}",
                "XPSR=0100000b ---- T handler",
            ]
        )
        + nl
    )


def trace_line(pc: int, wide: bool = False, crlf: bool = False) -> str:
    field = f"{pc:016x}" if wide else f"{pc:08x}"
    cs = "0" * (16 if wide else 8)
    return f"Trace 0: 0x7fb924c57580 [{cs}/{field}/00000110/ff000200] " + ("\r\n" if crlf else "\n")


@pytest.fixture
def trace_file(tmp_path):
    def make(text: str, name: str = "t.trace"):
        p = tmp_path / name
        p.write_bytes(text.encode())
        return p

    return make
