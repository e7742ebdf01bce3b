"""Command-line interface: the only layer that prints (rich) and exits."""
