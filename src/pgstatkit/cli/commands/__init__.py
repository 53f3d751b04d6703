"""The subcommands of ``pgstatkit``: one module per command, plus one generated
subcommand per report of :mod:`pgstatkit.reports` (:mod:`.listing`)."""

from __future__ import annotations

from pgstatkit import reports
from pgstatkit.cli.commands import (
    alert_rules,
    check,
    demo,
    doctor,
    explain,
    health,
    history,
    install,
    report,
    reset,
    uninstall,
)
from pgstatkit.cli.commands._command import Command
from pgstatkit.cli.commands.listing import report_command

__all__ = ["Command", "commands"]


def commands() -> list[Command]:
    """Every subcommand, in the order of ``pgstatkit --help``."""
    return [
        report.COMMAND,
        *(report_command(r) for r in reports.with_command()),
        explain.COMMAND,
        reset.COMMAND,
        install.COMMAND,
        uninstall.COMMAND,
        doctor.COMMAND,
        *history.COMMANDS,
        check.COMMAND,
        alert_rules.COMMAND,
        health.COMMAND,
        demo.COMMAND,
    ]
