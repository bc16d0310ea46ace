"""The ``ragcore`` command (``main``), one module per group of subcommands."""

from ragcore.cli.commands import main

__all__ = ["main"]
