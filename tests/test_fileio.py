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
