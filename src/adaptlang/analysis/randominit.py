"""The random-init study now lives in :mod:`adaptlang.pipeline.randominit`; this name stays for existing imports."""

from adaptlang.pipeline.randominit import RandomInitConfig, parse_pairs, run_random_init

__all__ = ["RandomInitConfig", "parse_pairs", "run_random_init"]
