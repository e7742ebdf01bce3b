import pytest

from adaptlang.errors import OutputExistsError
from adaptlang.fileio import atomic_path, check_output, write_json_atomic


def test_atomic_file_not_left_on_error(tmp_path):
    out = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(out) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_existing(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    (out / "old").write_text("x")
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "new").write_text("y")
    assert sorted(p.name for p in out.iterdir()) == ["new"]


def test_check_output_and_json(tmp_path):
    out = tmp_path / "r.json"
    write_json_atomic(out, {"a": 1})
    assert out.read_text().strip().startswith("{")
    with pytest.raises(OutputExistsError, match="--force"):
        check_output(out, force=False)
    assert check_output(out, force=True) == out


# ------------------------------------------------------------------------------------------ special outputs
import errno  # noqa: E402
import os  # noqa: E402
import stat  # noqa: E402
import threading  # noqa: E402

from adaptlang.errors import (  # noqa: E402
    AdaptlangError, OutputBusyError, OutputClosedError, OutputWriteError, UsageError,
)
from adaptlang.fileio import (  # noqa: E402
    check_writable, disk_errors, lock_path, open_output, output_lock, special_kind, write_text_atomic,
)


def _fifo(tmp_path, name="fifo"):
    p = tmp_path / name
    os.mkfifo(p)
    return p


def _read_in_thread(path, n=None):
    got = {}

    def run():
        with open(path, "rb") as f:
            got["data"] = f.read() if n is None else f.read(n)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, got


def _full_device(tmp_path):
    """A private copy of /dev/full (major 1, minor 7): writes fail with ENOSPC."""
    p = tmp_path / "full"
    try:
        os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        with open(p, "wb") as f:
            f.write(b"x")
    except PermissionError:
        pytest.skip("cannot create or open a device node here")
    except OSError as e:
        if e.errno != errno.ENOSPC:
            pytest.skip(f"device node unusable here: {e}")
    return p


def test_fifo_is_written_into_not_replaced(tmp_path):
    fifo = _fifo(tmp_path)
    assert special_kind(fifo) == "FIFO"
    assert check_output(fifo, force=False) == fifo  # nothing there is overwritten: no --force needed
    t, got = _read_in_thread(fifo)
    write_text_atomic(fifo, "abc\n")
    t.join(5)
    assert got["data"] == b"abc\n"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_atomic_path_spools_into_a_fifo(tmp_path):
    """Writers that need a path (safetensors, torch) get a temporary file, copied into the FIFO on success."""
    fifo = _fifo(tmp_path)
    t, got = _read_in_thread(fifo)
    with atomic_path(fifo) as tmp:
        assert tmp != fifo
        tmp.write_bytes(b"weights")
    t.join(5)
    assert got["data"] == b"weights" and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_device_is_never_replaced(tmp_path):
    full = _full_device(tmp_path)
    assert special_kind(full) == "character device"
    with pytest.raises(OutputWriteError, match=r"full: disk full while writing"):
        write_text_atomic(full, "x" * 10000)
    with pytest.raises(OutputWriteError, match="disk full"):
        with atomic_path(full) as tmp:
            tmp.write_bytes(b"y" * 10000)
    assert stat.S_ISCHR(os.stat(full).st_mode)
    with pytest.raises(UsageError, match="directory"):
        check_output(full, force=True, directory=True)


def test_stdout_output(capfd, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_text_atomic("-", "to stdout\n")
    with atomic_path("-") as tmp:
        tmp.write_text("spooled\n")
    assert capfd.readouterr().out == "to stdout\nspooled\n"
    assert list(tmp_path.iterdir()) == []  # no file named "-"


def test_closed_pipe_is_an_error(tmp_path):
    fifo = _fifo(tmp_path)
    t, got = _read_in_thread(fifo, n=10)  # reads 10 bytes, then closes its end
    with pytest.raises(OutputClosedError, match="closed early: output incomplete") as e:
        with open_output(fifo, binary=True) as f:
            for _ in range(64):
                f.write(b"z" * 65536)
    t.join(5)
    assert e.value.exit_code == 141 and got["data"] == b"z" * 10


# ------------------------------------------------------------------------------------------ output lock
def test_output_lock_second_holder_fails_at_once(tmp_path):
    out = tmp_path / "model"
    with output_lock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())
        with pytest.raises(OutputBusyError, match=rf"model is being written by another adaptlang run \(pid "
                                                  rf"{os.getpid()}\); wait for it or choose another -o"):
            with output_lock(out):
                pass
    assert not lock_path(out).exists()  # removed at exit
    with output_lock(out):  # and free again
        pass


def test_output_lock_reuses_a_stale_lock_file(tmp_path):
    out = tmp_path / "pred.conllu"
    lock_path(out).write_text("999999\n")  # left by a killed run: its flock died with it
    with output_lock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())
    assert not lock_path(out).exists()


def test_output_lock_skips_stdout_and_fifos(tmp_path):
    fifo = _fifo(tmp_path)
    with output_lock("-"), output_lock(fifo), output_lock(fifo):
        pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


# ------------------------------------------------------------------------------------------ disk errors
def test_disk_errors_oserror_names_out_and_resume(tmp_path):
    out = tmp_path / "OUT"
    out.mkdir()
    (out / ".weights.safetensors.abc.tmp").write_bytes(b"")  # a leftover of the failed save
    with pytest.raises(OutputWriteError) as e:
        with disk_errors(out):
            raise OSError(errno.ENOSPC, "No space left on device")
    msg = str(e.value)
    assert msg.startswith(f"{out}: disk full while saving (No space left on device); the previous checkpoint is "
                          "intact; free space and rerun with --resume")
    assert "leftover: " in msg and ".weights.safetensors.abc.tmp" in msg and "\n" not in msg


def test_disk_errors_safetensors_and_passthrough(tmp_path, monkeypatch):
    safetensors = pytest.importorskip("safetensors")
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file

    def full_disk(*a, **k):
        raise safetensors.SafetensorError(
            "Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr("safetensors.torch.save_file", full_disk)
    import safetensors.torch as st

    with pytest.raises(OutputWriteError, match="OUT: disk full while saving") as e:
        with disk_errors(tmp_path / "OUT"):
            st.save_file({"w": torch.zeros(2)}, tmp_path / "w.safetensors")
    assert isinstance(e.value, AdaptlangError)
    with pytest.raises(OutputWriteError, match=r"quota exceeded while saving .*; free space within your quota and "
                                               r"rerun$"):
        with disk_errors(tmp_path / "OUT", resume_hint=False):
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
    with pytest.raises(ValueError, match="a bug"):  # anything else is not a disk problem
        with disk_errors(tmp_path / "OUT"):
            raise ValueError("a bug")
    assert save_file is not None


# ------------------------------------------------------------------------------------------ early checks
def test_check_writable(tmp_path, monkeypatch):
    check_writable(None)
    check_writable("-")
    check_writable(tmp_path / "new" / "deeper" / "r.json")  # parents are created when writing
    with pytest.raises(UsageError, match=r"--json .*: is a directory"):
        check_writable(tmp_path)
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(UsageError, match=r"f\.txt is not a directory"):
        check_writable(tmp_path / "f.txt" / "r.json")
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    with pytest.raises(UsageError, match="cannot write in"):
        check_writable(tmp_path / "r.json", "--save-predictions")


def test_disk_full_while_writing_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out.txt"
    out.write_text("previous\n")

    def fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OutputWriteError) as e:
        write_text_atomic(out, "new\n")
    assert str(e.value) == (f"{out}: disk full while writing (No space left on device); nothing was written there; "
                            "free space and rerun")
    assert out.read_text() == "previous\n" and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
