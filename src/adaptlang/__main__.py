"""``python -m adaptlang``: the same command as the ``adaptlang`` console script."""

from adaptlang.cli.main import main

if __name__ == "__main__":
    main()
