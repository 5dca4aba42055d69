"""The static syscall scan on real binaries: C programs built here with the
project's own musl toolchain, hand-written Thumb-2 assembly, and our BusyBox.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from harness.image.kernel_source import prepare_source
from harness.image.userspace import build_userspace
from harness.kernel.syscall_table import parse_syscall_table
from harness.scan.syscalls import main, scan
from harness.settings.target import default_target_path, read_target

pytestmark = pytest.mark.needs("cross", "kernel")


@pytest.fixture(scope="module")
def userspace(tmp_path_factory):
    """musl + BusyBox as the cycles build them (up to date after the first build)."""
    target = read_target(default_target_path())
    logs = tmp_path_factory.mktemp("logs")
    source = prepare_source(target, logs)
    return build_userspace(target, source, logs), source


@pytest.fixture(scope="module")
def cc(userspace):
    """Compile C source with kqual's musl static-PIE wrapper."""
    us, _ = userspace
    wrapper = us.busybox.parent / "kqual-cc"

    def build(tmp: Path, name: str, code: str, opt: str = "-Os") -> Path:
        src = tmp / f"{name}.c"
        src.write_text(code)
        out = tmp / name
        subprocess.run([str(wrapper), opt, "-o", str(out), str(src)], check=True)
        return out

    return build


def sites(result, nr):
    return {(s.function, s.via) for s in result.sites.get(nr, ())}


# Numbers from arch/arm/tools/syscall.tbl.
SYS = {"read": 3, "open": 5, "sync": 36, "getppid": 64, "access": 33, "getpid": 20}
SYS |= {"getuid32": 199, "umask": 60, "fsync": 118, "chdir": 12, "getgid32": 200}


def test_direct_wrappers_syscall_and_cancellation_points(cc, tmp_path):
    exe = cc(
        tmp_path,
        "prog",
        r"""
        #include <fcntl.h>
        #include <sys/stat.h>
        #include <sys/syscall.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            char buf[16];
            int fd = open("/x", O_RDONLY);            /* direct wrapper */
            long r = syscall(SYS_getppid);             /* syscall() */
            ssize_t n = read(fd, buf, sizeof buf);     /* cancellation point */
            if (argc > 2) syscall(SYS_sync);           /* on one path only */
            fsync(fd);                                 /* cancellation point */
            umask(022);
            access("/y", F_OK);
            return (int)(r + n);
        }
        """,
    )
    r = scan([exe])
    assert r.complete, r.unresolved
    assert ("main", "syscall") in sites(r, SYS["getppid"])
    assert ("main", "syscall") in sites(r, SYS["sync"])
    # read and fsync pass their number to __syscall_cp, resolved in the wrapper
    assert ("read", "__syscall_cp") in sites(r, SYS["read"])
    assert ("fsync", "__syscall_cp") in sites(r, SYS["fsync"])
    assert {f for f, _ in sites(r, SYS["access"])} == {"access"}
    assert {f for f, _ in sites(r, SYS["umask"])} == {"umask"}
    assert SYS["open"] in r.numbers
    # nothing the program cannot reach: no chdir, no getpid
    assert SYS["chdir"] not in r.numbers and SYS["getpid"] not in r.numbers
    # musl's M-profile thread pointer: the ARM private get_tls call
    assert 0xF0006 in r.sites and 0xF0006 not in r.numbers


def test_a_number_chosen_on_two_paths_gives_both(cc, tmp_path):
    exe = cc(
        tmp_path,
        "twopaths",
        r"""
        #include <sys/syscall.h>
        #include <unistd.h>
        int main(int argc, char **argv) {
            long n = argc > 1 ? SYS_getpid : SYS_getuid32;
            return (int)syscall(n);
        }
        """,
    )
    r = scan([exe])
    assert r.complete
    assert ("main", "syscall") in sites(r, SYS["getpid"])
    assert ("main", "syscall") in sites(r, SYS["getuid32"])


SWITCH = r"""
#include <sys/syscall.h>
#include <unistd.h>
__attribute__((noinline)) long small(int op) {
    switch (op) {
    case 0: return syscall(SYS_getpid);
    case 1: return syscall(SYS_getppid);
    case 2: return syscall(SYS_getuid32);
    case 3: return syscall(SYS_getgid32);
    case 5: return syscall(SYS_umask, 0);
    case 7: return syscall(SYS_chdir, "/");
    default: return -1;
    }
}
int main(int argc, char **argv) { return (int)small(argc); }
"""


@pytest.mark.parametrize("opt", ["-Os", "-O2"])
def test_switch_jump_tables(cc, tmp_path, opt):
    exe = cc(tmp_path, "switch", SWITCH, opt)
    r = scan([exe])
    assert r.complete, r.unresolved
    want = {SYS[n] for n in ("getpid", "getppid", "getuid32", "getgid32", "umask", "chdir")}
    assert want <= r.numbers
    assert all(("small", "syscall") in sites(r, n) for n in want)


ESCAPE = r"""
#include <sys/syscall.h>
#include <unistd.h>
__attribute__((noinline, noclone)) void pick(volatile int *nr, int op) {
    *nr = op ? SYS_getppid : SYS_getpid;
}
__attribute__((noinline)) long escaped(int op) {
    volatile int nr = SYS_chdir;
    pick(&nr, op);
    return syscall(nr);
}
__attribute__((noinline)) long bytes(int hi) {
    volatile union { int nr; unsigned char b[4]; } u;
    u.nr = SYS_umask;
    if (hi) u.b[0] = SYS_getuid32;
    return syscall(u.nr);
}
int main(int argc, char **argv) { return escaped(argc) + bytes(argc > 1); }
"""


def test_a_slot_rewritten_through_a_pointer_is_never_trusted(cc, tmp_path):
    """The number's stack slot is passed to a callee, or written a byte at a time:
    reporting the first value stored would silently miss the real ones."""
    r = scan([cc(tmp_path, "escape", ESCAPE)])
    assert not r.complete
    assert {u.function for u in r.unresolved} == {"escaped", "bytes"}
    assert SYS["chdir"] not in r.numbers and SYS["umask"] not in r.numbers


def test_a_number_from_input_is_listed_unresolved(cc, tmp_path):
    exe = cc(
        tmp_path,
        "fromargv",
        r"""
        #include <stdlib.h>
        #include <unistd.h>
        int main(int argc, char **argv) { return (int)syscall(atoi(argv[1])); }
        """,
    )
    r = scan([exe])
    assert not r.complete
    (u,) = [u for u in r.unresolved if u.function == "main"]
    assert "argument 0 of syscall" in u.why and u.address.startswith("0x")
    # the rest is still resolved, and the JSON says incomplete
    assert r.numbers and r.as_json()["complete"] is False


def test_an_address_taken_gateway_is_unresolved(cc, tmp_path):
    exe = cc(
        tmp_path,
        "fnptr",
        r"""
        #include <sys/syscall.h>
        #include <unistd.h>
        long (*volatile call)(long, ...) = syscall;
        int main(void) { return (int)call(SYS_getpid); }
        """,
    )
    r = scan([exe])
    assert any("address is taken" in u.why and u.function == "syscall" for u in r.unresolved)


ASM = r"""
    .syntax unified
    .thumb
    .text
    .global _start
    .type _start, %function
    .thumb_func
_start:
    bl movw_movt
    bl literal
    bl copy_and_spill
    bl gateway_caller
    bl unknown
    b .
    .type movw_movt, %function
    .thumb_func
movw_movt:
    push {r7, lr}
    movw r7, #0x0005
    movt r7, #0x000f
    svc 0
    pop {r7, pc}
    .type literal, %function
    .thumb_func
literal:
    push {r7, lr}
    ldr r7, =397
    svc 0
    pop {r7, pc}
    .ltorg
    .type copy_and_spill, %function
    .thumb_func
copy_and_spill:
    push {r4, r7, lr}
    movw r3, #373
    str r3, [sp, #-4]!
    movs r3, #0
    ldr r4, [sp], #4
    mov r7, r4
    svc 0
    pop {r4, r7, pc}
    .type gateway, %function
    .thumb_func
gateway:
    push {r7, lr}
    mov r7, r1
    svc 0
    pop {r7, pc}
    .type gateway_caller, %function
    .thumb_func
gateway_caller:
    push {lr}
    movs r0, #1
    movs r1, #42
    bl gateway
    mov r1, #0x100
    adds r1, #7
    bl gateway
    pop {pc}
    .type unknown, %function
    .thumb_func
unknown:
    push {r7, lr}
    ldr r7, [r0]
    svc 0
    pop {r7, pc}
"""


def test_hand_written_thumb2(tmp_path, userspace):
    src = tmp_path / "t.S"
    src.write_text(ASM)
    exe = tmp_path / "t.elf"
    subprocess.run(
        ["arm-none-eabi-gcc", "-mcpu=cortex-m3", "-mthumb", "-nostdlib", "-o", exe, src],
        check=True,
    )
    r = scan([exe])
    assert sites(r, 0xF0005) == {("movw_movt", None)}
    assert sites(r, 397) == {("literal", None)}
    assert sites(r, 373) == {("copy_and_spill", None)}
    assert sites(r, 42) == sites(r, 263) == {("gateway_caller", "gateway")}
    assert [(u.function, u.why) for u in r.unresolved] == [("unknown", "r7 is not a constant here")]
    assert r.numbers == {42, 263, 373, 397}


def test_busybox_every_site_resolved(userspace, tmp_path, capsys):
    us, source = userspace
    table = {e.number for e in parse_syscall_table(source.syscall_table)}
    full = scan([us.busybox_unstripped])
    assert full.complete, sorted(full.unresolved)[:5]
    assert full.numbers < table  # a strict subset of the syscall table
    assert full.binaries[0].svc_sites > 100 and "__syscall_cp" in full.binaries[0].gateways
    # the stripped binary the initramfs ships gives the same set, without names
    stripped = scan([us.busybox])
    assert stripped.complete and stripped.numbers == full.numbers
    # the command line, as a person runs it
    rc = main([str(us.busybox_unstripped), "--syscall-table", str(source.syscall_table), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0 and data["complete"] and not data["unresolved"] and not data["not_in_table"]
    by_name = {e["name"]: e for e in data["syscalls"]}
    assert {"read", "write", "execve", "vfork", "wait4"} <= set(by_name)
    assert all(s["binary"] and s["function"] for e in data["syscalls"] for s in e["sites"])


@pytest.mark.parametrize(
    "content,message",
    [
        (b"not an elf at all", "not an ELF file"),
        (None, "no such file"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, capsys, content, message):
    path = tmp_path / "input"
    if content is not None:
        path.write_bytes(content)
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(path) in err and "Traceback" not in err


def test_a_host_binary_is_refused(capsys):
    assert main(["/bin/sh"]) == 2
    assert "the scanner reads 32-bit little-endian ARM" in capsys.readouterr().err
