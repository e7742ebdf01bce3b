"""adaptlang: adapt multilingual encoders to unseen, low-resource languages."""

__version__ = "0.1.0"
