import pytest

from adaptlang.data.text import ReadStats, iter_lines
from adaptlang.errors import InputError, UsageError


def test_crlf_bom_and_stats(tmp_path):
    p = tmp_path / "a.txt"
    p.write_bytes(b"\xef\xbb\xbfone\r\ntwo\r\n\r\nthree")
    stats = ReadStats()
    assert list(iter_lines(p, stats=stats)) == ["one", "two", "", "three"]
    assert stats.had_bom and stats.had_crlf
    assert stats.n_lines == 4 and stats.n_nonblank_lines == 3


def test_invalid_utf8_names_byte_offset(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_bytes(b"ok line\nab\xffcd\n")
    with pytest.raises(InputError) as e:
        list(iter_lines(p))
    assert "byte 10" in str(e.value) and "--encoding-errors replace" in str(e.value)
    assert list(iter_lines(p, encoding_errors="replace")) == ["ok line", "ab\ufffdcd"]


def test_missing_directory_binary(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        list(iter_lines(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="is a directory"):
        list(iter_lines(tmp_path))
    b = tmp_path / "bin"
    b.write_bytes(b"\x7fELF\x00\x00\x01")
    with pytest.raises(InputError, match="binary"):
        list(iter_lines(b))
    with pytest.raises(UsageError):
        list(iter_lines(b, encoding_errors="bogus"))
