"""The transliteration what-if: judged on coverage first (rule 1's thresholds), fertility only breaking ties; every
candidate scheme measured and the best kept."""

from __future__ import annotations

import pytest

from adaptlang.assess import assess_corpus
from adaptlang.assess.category import translit_verdict


def test_lifting_coverage_helps_even_when_fertility_grows():
    # Sindhi with mBERT (issue figures, after the table fixes): an unknown word is one [UNK], so fertility before
    # is low for the wrong reason; fertility growing by 60% must not hide that nearly every word became readable.
    v = translit_verdict((0.337, 0.848, 1.30), (0.03, 0.994, 2.10))
    assert v.helps and "lifts coverage" in v.why


def test_a_scheme_that_leaves_the_text_poorly_covered_does_not_help():
    # Komi with ISO 9: UNK words fall from 41.6% to 21.9%, still far above the 5% threshold.
    v = translit_verdict((0.416, 0.914, 2.25), (0.219, 0.999, 2.64))
    assert not v.helps and "still poorly covered" in v.why
    assert not translit_verdict((0.337, 0.848, 1.3), (0.071, 0.994, 1.7)).helps  # 7.1% > 5%: not yet


@pytest.mark.parametrize("before,after,helps", [
    ((0.04, 0.99, 2.0), (0.02, 0.99, 3.0), True),  # both covered: 2 points fewer UNK words decide
    ((0.02, 0.99, 2.0), (0.04, 0.99, 1.5), False),  # ... and 2 more decide against, whatever the fertility
    ((0.02, 0.97, 2.0), (0.02, 0.99, 2.5), True),  # UNK words equal: letters known decide
    ((0.02, 0.99, 2.0), (0.021, 0.99, 1.8), True),  # coverage about equal: lower fertility breaks the tie
    ((0.02, 0.99, 2.0), (0.021, 0.99, 2.2), False),
])
def test_fertility_only_breaks_ties(before, after, helps):
    assert translit_verdict(before, after).helps is helps


def test_komi_picks_the_plain_variant_by_measurement(shared_ud):
    path = shared_ud / "UD_Komi_Zyrian-Lattice" / "kpv_lattice-ud-test.conllu"
    r = assess_corpus(path, lang="kpv")
    tr = r.translit
    by_name = {c["scheme"]: c for c in tr.candidates}
    assert set(by_name) == {"table:cyrl-iso9", "table:cyrl-iso9-plain"}
    assert by_name["table:cyrl-iso9"]["unk_word_rate"] > 0.05  # ISO 9's ʹ ʺ are unknown to mBERT
    assert tr.scheme == "table:cyrl-iso9-plain" and by_name[tr.scheme]["chosen"]
    assert tr.after.unk_word_rate < 0.05 and tr.helps
    assert "--translit table:cyrl-iso9-plain" in r.recommendation.command
    iso9 = assess_corpus(path, lang="kpv", translit="table:cyrl-iso9").translit
    assert iso9.helps is False and len(iso9.candidates) == 1


SINDHI = ["سنڌي ٻولي ۽ ثقافت", "ڪراچي ۾ وڏو گهر آهي", "اسان جي ڳالهه ٻڌو", "هن ڏينهن ماڻهو ڪم ڪن ٿا"] * 5


def test_sindhi_what_if_helps_with_mbert(tmp_path):
    p = tmp_path / "sd.txt"
    p.write_text("\n".join(SINDHI) + "\n", encoding="utf-8")
    r = assess_corpus(p, lang="sd")
    tr = r.translit
    assert r.prediction.category == "hard" and tr.before.unk_word_rate > 0.05
    assert [c["scheme"] for c in tr.candidates] == ["table:sd-turner", "table:sd-turner-plain", "table:ar-alalc"]
    assert tr.scheme == "table:sd-turner-plain" and tr.after.unk_word_rate == 0 and tr.helps
    assert tr.after.fertility > 1.25 * tr.before.fertility  # the old rule would have said "does not help"
