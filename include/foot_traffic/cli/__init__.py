"""``foot-traffic``, the command: its parser and subcommands (``main``), ``produce``, the
exit codes and stop signals (``exits``), the live display (``terminal``) and ``schema``."""

from foot_traffic.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
