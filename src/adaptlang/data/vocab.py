"""Label vocabularies (UPOS, DEPREL, XPOS, FEATS, lemma rules) built from training data, with explicit unknown-label handling.

Labels seen only at evaluation time (another treebank, another language) have no index: :meth:`LabelVocab.index`
returns ``ignore`` for them (``-100``, the value ``torch.nn.functional.cross_entropy`` skips), so a dev loss can be
computed and scoring simply counts them as errors — a model can never predict a label it was not trained on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Sequence

from adaptlang.errors import ModelError

IGNORE_INDEX = -100


@dataclass(frozen=True)
class LabelVocab:
    """An ordered set of labels; ``labels[i]`` is the label of class ``i``."""

    name: str
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.labels)) != len(self.labels):
            raise ModelError(f"label vocabulary {self.name!r} has duplicate labels")
        object.__setattr__(self, "_index", {lab: i for i, lab in enumerate(self.labels)})

    @classmethod
    def build(cls, name: str, labels: Iterable[str], blank_is_label: bool = False) -> "LabelVocab":
        """Labels sorted by frequency (most frequent first), ties alphabetically. ``_`` is not a label, unless
        ``blank_is_label`` (FEATS ``_`` means "no features": a class to predict once the column is annotated)."""
        counts = Counter(lab for lab in labels if blank_is_label or lab != "_")
        return cls(name, tuple(sorted(counts, key=lambda lab: (-counts[lab], lab))))

    def __len__(self) -> int:
        return len(self.labels)

    def __contains__(self, label: str) -> bool:
        return label in self._index  # type: ignore[attr-defined]

    def index(self, label: str, ignore: int = IGNORE_INDEX) -> int:
        return self._index.get(label, ignore)  # type: ignore[attr-defined]

    def indices(self, labels: Sequence[str], ignore: int = IGNORE_INDEX) -> list[int]:
        return [self.index(lab, ignore) for lab in labels]

    def label(self, i: int) -> str:
        return self.labels[i]

    def to_dict(self) -> dict:
        return {"name": self.name, "labels": list(self.labels)}

    @classmethod
    def from_dict(cls, d: dict) -> "LabelVocab":
        try:
            return cls(str(d["name"]), tuple(str(x) for x in d["labels"]))
        except (KeyError, TypeError) as e:
            raise ModelError(f"malformed label vocabulary: {e}") from None
