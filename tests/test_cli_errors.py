"""Output safety at the command line: locked outputs, special files, closed pipes, full disks, late --json paths,
empty and binary inputs. Each failure is one line on stderr and a non-zero exit, and leaves nothing behind."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from adaptlang.fileio import lock_path, output_lock

CYRILLIC = "салам дуня китап адам өй\n"
SCHEME = ("--scheme", "table:cyrl-iso9")


def _one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture
def text(tmp_path: Path) -> Path:
    p = tmp_path / "in.txt"
    p.write_text(CYRILLIC * 50, encoding="utf-8")
    return p


def _adaptlang(*args: str, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def]
    return subprocess.Popen([sys.executable, "-m", "adaptlang", *args], stderr=subprocess.PIPE, **kw)


# 4. two runs given the same -o --------------------------------------------------------------------------------------
def test_second_run_on_a_locked_output_fails_at_once(tmp_path: Path, text: Path) -> None:
    out = tmp_path / "out.txt"
    with output_lock(out):  # this process plays the first run
        p = _adaptlang("transliterate", str(text), *SCHEME, "-o", str(out), stdout=subprocess.DEVNULL)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert _one_line(err.decode()) == (f"adaptlang: error: {out} is being written by another adaptlang run "
                                       f"(pid {os.getpid()}); wait for it or choose another -o")
    assert not out.exists() and not lock_path(out).exists()


def test_lock_is_released_after_a_run(tmp_path: Path, text: Path, run_cli) -> None:
    out = tmp_path / "out.txt"
    assert run_cli("transliterate", str(text), *SCHEME, "-o", str(out)).returncode == 0
    assert out.exists() and not lock_path(out).exists()
    with output_lock(out):  # a later run of a locked command: the same one-line refusal in-process too
        r = run_cli("transliterate", str(text), *SCHEME, "-o", str(out), "--force")
    assert r.returncode == 1 and "is being written by another adaptlang run" in _one_line(r.stderr)


# 5. --force on special files ----------------------------------------------------------------------------------------
def test_force_writes_into_a_fifo(tmp_path: Path, text: Path, run_cli) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: dict[str, bytes] = {}
    reader = threading.Thread(target=lambda: got.setdefault("data", fifo.read_bytes()), daemon=True)
    reader.start()
    r = run_cli("transliterate", str(text), *SCHEME, "-o", str(fifo), "--force")
    reader.join(10)
    assert r.returncode == 0, r.stderr
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # not replaced by a regular file
    assert got["data"].decode().startswith("salam")


def test_force_never_replaces_a_device(tmp_path: Path, text: Path, run_cli) -> None:
    full = tmp_path / "full"  # a private /dev/full
    try:
        os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        os.close(os.open(full, os.O_WRONLY))
    except OSError:
        pytest.skip("cannot create or open a device node here")
    r = run_cli("transliterate", str(text), *SCHEME, "-o", str(full), "--force")
    assert r.returncode == 1
    assert _one_line(r.stderr).startswith(f"adaptlang: error: {full}: disk full while writing (")
    assert stat.S_ISCHR(os.stat(full).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full", "in.txt"]


# 6. a closed stdout -------------------------------------------------------------------------------------------------
def test_closed_stdout_is_not_a_success(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text(CYRILLIC * 40_000, encoding="utf-8")  # 1.4 MB: far more than a pipe holds
    p = _adaptlang("transliterate", str(big), *SCHEME, "-o", "-", stdout=subprocess.PIPE)
    assert p.stdout is not None
    assert p.stdout.read(10).startswith(b"salam dun")
    p.stdout.close()  # as `| head -c 10` does
    _, err = p.communicate(timeout=60)
    assert p.returncode == 141
    assert _one_line(err.decode()) == "adaptlang: stdout closed early: output incomplete"


def test_main_turns_clicks_silent_epipe_exit_into_141(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    """A closed stdout outside our writers (a rich table, --json -) goes through click, which exits 1 silently."""
    from adaptlang.cli import main as cli_main

    def app(**_: object) -> None:
        try:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")
        except OSError:
            sys.exit(1)  # what click does (standalone or not)

    monkeypatch.setattr(cli_main, "app", app)
    monkeypatch.setattr(os, "dup2", lambda *a: None)  # keep pytest's stdout
    with pytest.raises(SystemExit) as e:
        cli_main.main()
    assert e.value.code == 141
    assert capsys.readouterr().err.strip() == "adaptlang: stdout closed early: output incomplete"


@pytest.mark.parametrize("args, expected", [
    (("baseline", "--train", "t.conllu", "-o", "out", "--epochs", "abc"),
     "adaptlang: error: Invalid value for '--epochs': Input should be a valid integer, unable to parse string as an "
     "integer (see `adaptlang baseline --help`)"),
    (("baseline", "--bogus"), "adaptlang: error: No such option: --bogus (Possible options: --corpus) (see "
                              "`adaptlang baseline --help`)"),
    (("baseline", "-o", "out"), "adaptlang: error: Missing option '--train'. (see `adaptlang baseline --help`)"),
    (("nosuchcmd",), "adaptlang: error: No such command 'nosuchcmd'. (see `adaptlang --help`)"),
])
def test_a_bad_command_line_is_one_line_and_exit_2(args: tuple[str, ...], expected: str, run_cli) -> None:
    """click's usage errors (unknown command or option, a value of the wrong type, a missing option) end in one
    line naming what is wrong and where the help is, not click's framed box."""
    r = run_cli(*args)
    assert r.returncode == 2 and _one_line(r.stderr) == expected and r.stdout == ""


def test_help_and_a_command_without_arguments(run_cli) -> None:
    r = run_cli("baseline", "--help")
    assert r.returncode == 0 and "--tag-weight" in r.stdout
    r = run_cli("evaluate")  # no arguments: its help on stdout, exit 2 (click's standalone behaviour)
    assert r.returncode == 2 and "Usage: adaptlang evaluate" in r.stdout and r.stderr == ""


# 8. the catch-all: only real bugs are internal errors ---------------------------------------------------------------
def test_describe_exception() -> None:
    from adaptlang.cli.main import describe_exception

    msg, code = describe_exception(OSError(errno.ENOSPC, "No space left on device"))
    assert code == 1 and msg.startswith("error: disk full (No space left on device)")
    msg, code = describe_exception(MemoryError())
    assert code == 1 and "out of memory" in msg
    msg, code = describe_exception(RuntimeError("line one\nline two"))
    assert code == 3 and msg == ("internal error: RuntimeError: line one (please report it; rerun with "
                                 "ADAPTLANG_DEBUG=1 for the traceback)")


# 9. an unwritable --json is found before any work -------------------------------------------------------------------
JSON_COMMANDS = {
    "transliterate": ["transliterate", "IN", *SCHEME, "-o", "OUT"],
    "assess": ["assess", "IN"],
    "adapt": ["adapt", "IN", "--model", "MISSING", "-o", "OUT"],
    "train": ["train", "--train", "IN", "--model", "MISSING", "-o", "OUT"],
    "evaluate": ["evaluate", "MISSING", "IN"],
    "predict": ["predict", "MISSING", "IN", "-o", "OUT"],
    "baseline": ["baseline", "--train", "IN", "-o", "OUT"],
    "categorize": ["categorize", "--corpus", "IN", "--train", "IN", "--test", "IN", "--model", "MISSING",
                   "-o", "OUT"],
    "analyze cka": ["analyze", "cka", "--model", "MISSING", "--source", "IN", "--target", "IN", "-o", "OUT"],
    "analyze random-init": ["analyze", "random-init", "--train", "IN", "--test", "IN", "--model", "MISSING",
                            "--pairs", "1-2", "-o", "OUT"],
}


@pytest.mark.parametrize("command", list(JSON_COMMANDS))
def test_unwritable_json_fails_first(command: str, tmp_path: Path, text: Path, run_cli) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    args = [{"IN": str(text), "OUT": str(tmp_path / "out"), "MISSING": str(tmp_path / "missing")}.get(a, a)
            for a in JSON_COMMANDS[command]]
    r = run_cli(*args, "--json", str(blocker / "r.json"))
    assert r.returncode == 2, r.stderr
    assert _one_line(r.stderr) == (f"adaptlang: error: --json {blocker / 'r.json'}: {blocker} is not a directory; "
                                   "give another path")
    assert not (tmp_path / "out").exists()
    r = run_cli(*args, "--json", str(tmp_path))
    assert r.returncode == 2 and "is a directory" in _one_line(r.stderr)


# 10. empty and binary inputs ----------------------------------------------------------------------------------------
def test_transliterate_rejects_an_empty_input(tmp_path: Path, run_cli) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    out = tmp_path / "out.txt"
    r = run_cli("transliterate", str(empty), *SCHEME, "-o", str(out))
    assert r.returncode == 1
    assert _one_line(r.stderr) == f"adaptlang: error: {empty}: is empty; give a text or CoNLL-U file with some lines"
    assert not out.exists()


@pytest.mark.parametrize("content,expected", [
    (b"\x00\x01\x02binary", "looks like a binary file"),
    (b"", "is empty (--corpus)"),
    ("ok line\n".encode() * 200_000 + b"\xff\n", "(byte 1600000): invalid UTF-8"),  # past the first block
])
def test_categorize_checks_the_corpus_before_creating_the_run(content: bytes, expected: str, tmp_path: Path,
                                                                run_cli) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(content)
    tb = tmp_path / "t.conllu"
    tb.write_text("1\ta\t_\tX\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    run = tmp_path / "run"
    r = run_cli("categorize", "--corpus", str(corpus), "--train", str(tb), "--test", str(tb), "--model",
                str(tmp_path / "missing"), "-o", str(run))
    assert r.returncode == 1 and expected in _one_line(r.stderr)
    assert not run.exists() and not lock_path(run).exists()
