"""How well does a model's vocabulary cover a corpus? Pure functions behind ``adaptlang assess``.

* :mod:`~adaptlang.assess.scripts`: letters per Unicode script, mixed-script words, the dominant script;
* :mod:`~adaptlang.assess.tokenizer`: tokenizer loading, vocabulary profile (pieces per script, character
  coverage), tokenizer metrics (fertility, continued words, UNK rates, words split into single characters);
* :mod:`~adaptlang.assess.languages`: pretraining languages of mBERT / XLM-R and a curated relatedness table;
* :mod:`~adaptlang.assess.category`: the predicted category and the recommended next command;
* :mod:`~adaptlang.assess.core`: :func:`assess_corpus`, one streaming pass over the corpus -> :class:`AssessReport`.

Torch-free (tokenizers are read with the ``tokenizers`` library when a ``tokenizer.json`` is there).
"""

from adaptlang.assess.core import AssessReport, assess_corpus

__all__ = ["AssessReport", "assess_corpus"]
