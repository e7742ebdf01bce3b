"""``adaptlang transliterate`` as a user runs it: files and pipes, --list, --to, --json, errors as one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from adaptlang.translit import corpus
from adaptlang.translit.corpus import transliterate_file

UG = "ئۇيغۇرچە تىل\nمەن بولسام شەكىل ئۆزگەرتىپ، ئۆزۈم.\n\nئىنگلىز سائەت\n"
UG_ULY = "uyghurche til\nmen bolsam shekil özgertip, özüm.\n\nin'gliz sa'et\n"


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    code = "from adaptlang.cli.main import main; main()"
    return subprocess.run([sys.executable, "-c", code, "transliterate", *args], input=stdin, capture_output=True)


def test_file_to_file_with_json(tmp_path):
    src = tmp_path / "ug.txt"
    src.write_text(UG, encoding="utf-8")
    out, rep = tmp_path / "out.txt", tmp_path / "r.json"
    res = cli(str(src), "-o", str(out), "--scheme", "table:ug-uly", "--json", str(rep))
    assert res.returncode == 0, res.stderr
    assert out.read_text(encoding="utf-8") == UG_ULY
    d = json.loads(rep.read_text(encoding="utf-8"))
    assert d["scheme"] == "table:ug-uly" and d["n_lines"] == 4 and d["uncovered_share"] == 0
    again = cli(str(src), "-o", str(out), "--scheme", "table:ug-uly")
    assert again.returncode != 0 and b"--force" in again.stderr


def test_stdin_to_stdout_and_to_latin_says_what_it_picked():
    res = cli("-", "-o", "-", "--to", "latin", "--lang", "ug", stdin=UG.encode())
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode() == UG_ULY
    assert b"picked table:ug-uly" in res.stderr


def test_wrong_script_warns_with_the_uncovered_share():
    res = cli("-", "-o", "-", "--scheme", "table:ug-uly", stdin="Эрзянь кель\n".encode())
    assert res.returncode == 0
    err = res.stderr.decode()
    assert "warning" in err and "100.0% of output letters" in err and "Cyrl" in err
    assert res.stdout.decode() == "Эрзянь кель\n"


def test_unknown_scheme_is_one_line_listing_valid_names():
    res = cli("-", "-o", "-", "--scheme", "table:klingon", stdin=b"x\n")
    assert res.returncode == 2
    lines = res.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "table:ug-uly" in lines[0] and "uroman" in lines[0]


def test_invalid_utf8_names_byte_offset_and_leaves_no_output(tmp_path):
    src = tmp_path / "bad.txt"
    src.write_bytes("ئۇ\n".encode() + b"ab\xffcd\n")
    out = tmp_path / "out.txt"
    res = cli(str(src), "-o", str(out), "--scheme", "table:ug-uly")
    assert res.returncode == 1
    err = res.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "byte 7" in err and "invalid UTF-8" in err
    assert not out.exists()


def test_list_shows_every_scheme():
    res = cli("--list")
    assert res.returncode == 0
    text = res.stdout.decode()
    for name in ("table:ug-uly", "table:ug-turkish", "table:ckb-hawar", "table:sd-turner", "table:ar-alalc",
                 "table:cyrl-iso9", "table:ka-national", "table:latn-cyrl", "table:latn-arab", "uroman",
                 "epitran:<code>", "uig-Arab"):
        assert name in text
    js = cli("--list", "--json", "-")
    names = {s["name"] for s in json.loads(js.stdout)["schemes"]}
    assert "epitran:uig-Arab" in names and "table:cyrl-iso9:reverse" in names


def test_missing_output_option_is_a_usage_error():
    res = cli("in.txt")
    assert res.returncode == 2 and b"-o OUTPUT" in res.stderr


def test_parallel_chunks_give_the_same_output_and_report(tmp_path, monkeypatch):
    src = tmp_path / "big.txt"
    src.write_text(UG * 300 + "Салам\n", encoding="utf-8")
    monkeypatch.setattr(corpus, "CHUNK_CHARS", 500)
    one = transliterate_file(str(src), str(tmp_path / "one.txt"), "table:ug-uly", workers=1)
    two = transliterate_file(str(src), str(tmp_path / "two.txt"), "table:ug-uly", workers=2)
    assert (tmp_path / "one.txt").read_bytes() == (tmp_path / "two.txt").read_bytes()
    assert (one.n_letters_out, one.n_uncovered, one.n_lines) == (two.n_letters_out, two.n_uncovered, two.n_lines)
    assert two.workers == 2 and one.n_uncovered == 5


def test_uroman_backend_on_a_file_reports_its_name(tmp_path):
    src = tmp_path / "ug.txt"
    src.write_text(UG, encoding="utf-8")
    rep = transliterate_file(str(src), str(tmp_path / "o.txt"), "uroman", lang="ug")
    assert rep.scheme == "uroman:uig" and rep.uncovered_share == 0
    assert (tmp_path / "o.txt").read_text(encoding="utf-8").startswith("uyghurche til\n")


def test_epitran_report_says_ipa(tmp_path):
    src = tmp_path / "ug.txt"
    src.write_text("تىل\n", encoding="utf-8")
    rep = transliterate_file(str(src), str(tmp_path / "o.txt"), "epitran:uig-Arab")
    assert any("IPA" in w for w in rep.warnings)


@pytest.mark.parametrize("workers", [1, 2])
def test_bom_crlf_and_missing_final_newline(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(corpus, "CHUNK_CHARS", 64)  # several blocks even for a small file
    src = tmp_path / "in.txt"
    body = ("ئۇيغۇرچە تىل\r\n" * 20 + "سائەت").encode("utf-8")
    src.write_bytes(b"\xef\xbb\xbf" + body)
    out = tmp_path / "out.txt"
    rep = transliterate_file(str(src), str(out), "table:ug-uly", workers=workers)
    assert out.read_text(encoding="utf-8") == "uyghurche til\n" * 20 + "sa'et\n"
    assert rep.n_lines == 21


def test_nul_bytes_in_a_later_block_are_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(corpus, "CHUNK_CHARS", 64)
    src = tmp_path / "in.txt"
    src.write_bytes("ئۇيغۇرچە تىل\n".encode() * 2000 + b"a\x00b\n")
    with pytest.raises(Exception, match="NUL"):
        transliterate_file(str(src), str(tmp_path / "out.txt"), "table:ug-uly")
    assert not (tmp_path / "out.txt").exists()
