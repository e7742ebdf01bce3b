"""Cross-lingual analyses of multilingual encoders.

- :mod:`adaptlang.analysis.cka`: representation similarity (linear / RBF CKA) between parallel sentences, layer by
  layer, before and after fine-tuning.
- :mod:`adaptlang.pipeline.randominit` (also importable as ``adaptlang.analysis.randominit``): re-initialise pairs
  of layers before fine-tuning and measure what is lost on same-language and cross-language test sets.

Torch is imported inside functions only.
"""
