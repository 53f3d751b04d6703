"""The shape of a ``pgstatkit`` subcommand."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from pgstatkit.cli._output import Out

__all__ = ["Command"]


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, help line, options and what it does (returns the exit code)."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Out], int]
