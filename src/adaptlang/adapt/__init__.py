"""Language adaptation: continued masked-language-model training (full or LoRA), vocabulary extension,
transliterated corpora. Library entry point: :func:`adapt_model`."""

from adaptlang.adapt.config import AdaptConfig, AdaptResult
from adaptlang.adapt.run import Event, Interrupted, adapt_model

__all__ = ["AdaptConfig", "AdaptResult", "Event", "Interrupted", "adapt_model"]
