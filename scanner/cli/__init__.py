"""``fundscan`` command line: one typer app, one module per command group.

Why a package: each command group (config, collect, db, emulator, scan/demo) lives in its own
small module that registers itself here, so a reader finds a command by its name.
Only this package configures logging handlers; library code only uses getLogger(__name__).
"""

from __future__ import annotations

import typer

from scanner.cli import (
    alerts_cmd,
    backfill_cmd,
    backtest_cmd,
    collect_cmd,
    config_cmd,
    db_cmd,
    emulator_cmd,
    execute_cmd,
    import_cmd,
    research_cmd,
    run_cmd,
    scan_cmd,
    status_cmd,
    watch_cmd,
)

app = typer.Typer(
    name="fundscan",
    help="Find (and optionally trade) funding-rate arbitrage between perpetual-futures venues.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

config_cmd.register(app)
db_cmd.register(app)
collect_cmd.register(app)
emulator_cmd.register(app)
scan_cmd.register(app)
run_cmd.register(app)
watch_cmd.register(app)
alerts_cmd.register(app)
execute_cmd.register(app)
status_cmd.register(app)
backtest_cmd.register(app)
import_cmd.register(app)
backfill_cmd.register(app)
research_cmd.register(app)


def main() -> None:
    """Console-script entry point."""
    app()
