"""Input data: raw corpora (streaming), CoNLL-U (lossless), label vocabularies."""
