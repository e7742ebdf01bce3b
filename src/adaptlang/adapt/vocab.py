"""Vocabulary extension: learn subwords on the target corpus, add the most useful ones the model lacks.

A Unigram learner is trained with the model's own normalizer and pre-tokenizer, and its pieces are written in the
base tokenizer's notation (WordPiece: continuation prefix inside words; SentencePiece/Unigram: as learned), so new
pieces slot into the existing segmentation: appended to a WordPiece vocabulary (greedy longest match picks them
up) or to a Unigram vocabulary with their learned log-probability as score. A candidate's usefulness is how many old pieces it saves over the corpus: its use count
in the learned segmentation times (number of old pieces needed to spell it - 1), plus its count again for every
[UNK] it removes.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adaptlang.errors import UsageError

SUPPORTED = ("WordPiece", "Unigram")


@dataclass(frozen=True)
class VocabExtension:
    added: list[str]
    new_ids: list[int]
    inits: dict[int, list[int]]  # new id -> old-vocabulary piece ids it is initialised from
    learned_vocab_size: int
    model_type: str

    def summary(self) -> dict[str, Any]:
        return {
            "added": len(self.added),
            "learned_vocab_size": self.learned_vocab_size,
            "tokenizer_model": self.model_type,
            "examples": self.added[:20],
        }


def extend_tokenizer(tokenizer: Any, lines: list[str], n_new: int, workdir: str) -> tuple[Any, VocabExtension]:
    """Return (extended tokenizer, what was added). ``tokenizer`` is a fast Hugging Face tokenizer."""
    from tokenizers import Tokenizer, models, trainers
    from transformers import AutoTokenizer

    base_json = json.loads(tokenizer.backend_tokenizer.to_str())
    kind = base_json["model"]["type"]
    if kind not in SUPPORTED:
        raise UsageError(f"--extend-vocab supports {' and '.join(SUPPORTED)} tokenizers; this model's is {kind}")
    learner = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    learned_size = min(max(4 * n_new, 1000), 64000)
    unk = tokenizer.unk_token
    # A Unigram learner for both kinds: the tokenizers library's Unigram trainer is deterministic (its BPE/WordPiece
    # trainer breaks ties in hash order), and a run must be reproducible from its seed.
    learner.model = models.Unigram()
    learner.post_processor = None
    learner.train_from_iterator(
        lines, trainer=trainers.UnigramTrainer(vocab_size=learned_size, special_tokens=[unk], unk_token=unk,
                                               show_progress=False)
    )
    prefix = base_json["model"].get("continuing_subword_prefix", "##") if kind == "WordPiece" else ""

    # Use counts of the learned pieces over the corpus, in the base tokenizer's notation (WordPiece: a piece inside
    # a word is written with its continuation prefix).
    use: Counter[str] = Counter()
    for enc in learner.encode_batch(lines, add_special_tokens=False):
        previous_word = None
        for piece, word in zip(enc.tokens, enc.word_ids):
            if kind == "WordPiece" and word is not None and word == previous_word:
                piece = prefix + piece
            previous_word = word
            use[piece] += 1
    old_model = tokenizer.backend_tokenizer.model
    old_vocab = tokenizer.backend_tokenizer.get_vocab(with_added_tokens=True)
    candidates = sorted(p for p in use if p not in old_vocab and p != unk and p != prefix)
    learned_vocab = use
    unk_id = tokenizer.unk_token_id
    scored: list[tuple[float, str, list[int]]] = []
    for piece in candidates:
        count = use[piece]
        old_ids = _old_pieces(old_model, old_vocab, piece, kind, base_json)
        n_unk = sum(1 for i in old_ids if i == unk_id)
        saving = count * (max(0, len(old_ids) - 1) + n_unk)
        if saving > 0:
            scored.append((saving, piece, old_ids))
    scored.sort(key=lambda t: (-t[0], t[1]))
    chosen = scored[:n_new]

    new_json = dict(base_json)
    model_json = dict(base_json["model"])
    added_ids = {a["id"] for a in base_json.get("added_tokens", [])}
    if kind == "WordPiece":
        vocab = dict(model_json["vocab"])
        next_id = max(max(vocab.values()), max(added_ids, default=-1)) + 1
        new_ids = []
        for _, piece, _ in chosen:
            vocab[piece] = next_id
            new_ids.append(next_id)
            next_id += 1
        model_json["vocab"] = vocab
    else:
        vocab_list = list(model_json["vocab"])
        if added_ids and max(added_ids) >= len(vocab_list):
            raise UsageError("--extend-vocab: this tokenizer keeps special tokens outside its Unigram vocabulary")
        learned_scores = {p: s for p, s in json.loads(learner.to_str())["model"]["vocab"]}
        new_ids = []
        for _, piece, _ in chosen:
            new_ids.append(len(vocab_list))
            vocab_list.append([piece, float(learned_scores.get(piece, -10.0))])
        model_json["vocab"] = vocab_list
    new_json["model"] = model_json
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tokenizer.save_pretrained(tmp)
        (Path(tmp) / "tokenizer.json").write_text(json.dumps(new_json, ensure_ascii=False), encoding="utf-8")
        extended = AutoTokenizer.from_pretrained(tmp)
    inits = {new_id: old_ids for new_id, (_, _, old_ids) in zip(new_ids, chosen)}
    return extended, VocabExtension(
        added=[p for _, p, _ in chosen], new_ids=new_ids, inits=inits, learned_vocab_size=len(learned_vocab),
        model_type=kind,
    )


def _old_pieces(old_model: Any, old_vocab: dict[str, int], piece: str, kind: str, base_json: dict) -> list[int]:
    """Old-vocabulary ids that spell ``piece`` (the pieces the old tokenizer would use for that string)."""
    if kind == "WordPiece":
        prefix = base_json["model"].get("continuing_subword_prefix", "##")
        cont = piece.startswith(prefix)
        surface = piece[len(prefix):] if cont else piece
        toks = [t.value for t in old_model.tokenize(surface)]
        if cont and toks and (prefix + toks[0]) in old_vocab:
            toks[0] = prefix + toks[0]
        return [old_vocab[t] for t in toks if t in old_vocab] or [old_vocab.get(base_json["model"]["unk_token"], 0)]
    return [t.id for t in old_model.tokenize(piece)]


def save_extension(root: Path, tokenizer: Any, ext: VocabExtension) -> None:
    """Store the run's tokenizer and extension once, beside the checkpoints (they are part of the run's state)."""
    from adaptlang.fileio import atomic_path

    root.mkdir(parents=True, exist_ok=True)
    with atomic_path(root / "tokenizer") as tmp:
        tokenizer.save_pretrained(str(tmp))
        payload = {
            "added": ext.added, "new_ids": ext.new_ids, "inits": {str(k): v for k, v in ext.inits.items()},
            "learned_vocab_size": ext.learned_vocab_size, "model_type": ext.model_type,
        }
        (tmp / "vocab_extension.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")


def load_extension(root: Path) -> tuple[Any, VocabExtension]:
    from transformers import AutoTokenizer

    from adaptlang.engine.checkpoint import CheckpointError

    d = root / "tokenizer"
    try:
        payload = json.loads((d / "vocab_extension.json").read_text(encoding="utf-8"))
        tokenizer = AutoTokenizer.from_pretrained(str(d))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{d}: cannot read the extended tokenizer of the run ({e}); start over with --force")
    ext = VocabExtension(
        added=payload["added"], new_ids=payload["new_ids"],
        inits={int(k): v for k, v in payload["inits"].items()},
        learned_vocab_size=payload["learned_vocab_size"], model_type=payload["model_type"],
    )
    return tokenizer, ext
