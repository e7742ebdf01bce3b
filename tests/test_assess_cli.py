"""``adaptlang assess`` through the command-line entry point: a report for good input, a one-line error and a
non-zero exit for each kind of bad input (never a traceback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from adaptlang.cli.main import main

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "uyghur-udt-excerpt.txt"


def run(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["adaptlang", "assess", *args])
    code = 0
    try:
        main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *needles: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("adaptlang: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_report_and_json(monkeypatch, capsys, tmp_path):
    out_json = tmp_path / "r.json"
    code, out, err = run(monkeypatch, capsys, str(EXAMPLE), "--lang", "ug", "--json", str(out_json))
    assert code == 0, err
    for heading in ("Script profile", "Vocabulary profile", "Tokenizer metrics", "Language knowledge",
                    "Transliteration what-if", "Predicted category", "Next:"):
        assert heading in out
    d = json.loads(out_json.read_text(encoding="utf-8"))
    assert d["prediction"]["category"] == "hard"
    assert set(d) >= {"scripts", "vocabulary", "tokenizer", "language", "translit", "prediction", "recommendation"}
    # an existing --json output is not overwritten without --force
    code, _, err = run(monkeypatch, capsys, str(EXAMPLE), "--json", str(out_json))
    one_line_error(code, err, "already exists", "--force")
    code, _, err = run(monkeypatch, capsys, str(EXAMPLE), "--json", str(out_json), "--force", "--translit", "none")
    assert code == 0, err


def test_json_to_stdout(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, str(EXAMPLE), "--json", "-", "--translit", "none")
    assert code == 0, err
    assert json.loads(out)["corpus"]["n_sentences"] == 300


def test_stdin(monkeypatch, capsys):
    import io

    data = "Salam dunya\nyaxshi\n".encode("utf-8")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, err = run(monkeypatch, capsys, "-", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["corpus"]["path"] == "<stdin>"


@pytest.mark.parametrize(
    "content, needles",
    [
        (None, ["no such file"]),
        ("dir", ["is a directory"]),
        (b"", ["is empty"]),
        (b"  \n\t\n   \n", ["only whitespace"]),
        (b"hello w\xffrld\n", ["byte 7", "invalid UTF-8", "--encoding-errors replace"]),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", ["binary"]),
        (b"12 34 !!\n", ["no letters"]),
    ],
    ids=["missing", "directory", "empty", "whitespace", "invalid-utf8", "binary", "no-letters"],
)
def test_bad_corpus(monkeypatch, capsys, tmp_path, content, needles):
    path = tmp_path / "corpus.txt"
    if content == "dir":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    code, _, err = run(monkeypatch, capsys, str(path))
    one_line_error(code, err, str(path), *needles)


def test_encoding_errors_replace_gives_a_report(monkeypatch, capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"hello w\xffrld\nsalam\n")
    code, out, err = run(monkeypatch, capsys, str(path), "--encoding-errors", "replace", "--json", "-")
    assert code == 0, err
    assert json.loads(out)["corpus"]["n_replaced"] == 1


def test_bom_and_crlf_give_a_correct_report(monkeypatch, capsys, tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes(b"\xef\xbb\xbfSalam dunya\r\nyaxshi\r\n")
    code, out, err = run(monkeypatch, capsys, str(path), "--json", "-", "--lang", "az")
    assert code == 0, err
    d = json.loads(out)
    assert d["corpus"]["had_bom"] and d["corpus"]["had_crlf"]
    assert d["scripts"]["n_chars"] == len("Salamdunyayaxshi")  # neither the BOM nor the CR is counted
    assert d["language"]["in_model"] is True


def test_long_single_line(monkeypatch, capsys, tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("salam dunya " * 200_000, encoding="utf-8")  # 2.4 MB on one line
    code, out, err = run(monkeypatch, capsys, str(path), "--json", "-", "--translit", "none")
    assert code == 0, err
    d = json.loads(out)
    assert d["corpus"]["n_lines"] == 1 and d["scripts"]["n_words"] == 400_000
    assert d["sample"]["n_sentences"] == 8_000  # the line is sampled in 50-word pieces


def test_conllu_input(monkeypatch, capsys, tmp_path):
    path = tmp_path / "c.conllu"
    path.write_text("# text = Salam dunya\n1\tSalam\t_\t_\t_\t_\t0\troot\t_\t_\n2\tdunya\t_\t_\t_\t_\t1\tobj\t_\t_\n\n",
                    encoding="utf-8")
    code, out, err = run(monkeypatch, capsys, str(path), "--json", "-")
    assert code == 0, err
    d = json.loads(out)
    assert d["corpus"]["format"] == "conllu" and d["scripts"]["n_words"] == 2


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--lang", "xx"], ["--lang", "ISO 639"]),
        (["--model", "NOTOK"], ["--model", "not a tokenizer directory"]),
        (["--model", "./does/not/exist"], ["--model", "no such directory"]),
        (["--translit", "nosuch"], ["unknown transliteration scheme"]),
        (["--encoding-errors", "foo"], ["--encoding-errors"]),
        (["--pretraining", "foo"], ["--pretraining"]),
    ],
    ids=["unknown-lang", "not-a-tokenizer", "missing-model", "unknown-scheme", "encoding-errors", "pretraining"],
)
def test_bad_options(monkeypatch, capsys, tmp_path, args, needles):
    (tmp_path / "NOTOK").mkdir()
    (tmp_path / "NOTOK" / "readme.txt").write_text("not a tokenizer", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = run(monkeypatch, capsys, str(EXAMPLE), *args)
    one_line_error(code, err, *needles)


def test_python_dash_m_runs_the_same_command() -> None:
    import subprocess

    from adaptlang import __version__

    r = subprocess.run([sys.executable, "-m", "adaptlang", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"adaptlang {__version__}"
    r = subprocess.run([sys.executable, "-m", "adaptlang", "assess", "no-such-file.txt"], capture_output=True, text=True)
    assert r.returncode != 0 and "no-such-file.txt" in r.stderr and len(r.stderr.strip().splitlines()) == 1
