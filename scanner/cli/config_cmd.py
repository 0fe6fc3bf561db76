"""``fundscan config show|check``."""

from __future__ import annotations

import json

import typer
import yaml

from scanner.cli.common import ConfigOption, console, settings_or_exit


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Inspect and validate configuration.", no_args_is_help=True)

    @group.command("show")
    def show(
        config: ConfigOption = None,
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
    ) -> None:
        """Print the effective configuration (defaults + file + env overrides), secrets masked."""
        from scanner.settings import masked_dict

        settings = settings_or_exit(config)
        data = masked_dict(settings)
        console.print(f"# effective configuration from {settings.source}", highlight=False)
        if as_json:
            console.print_json(json.dumps(data))
        else:
            console.print(yaml.safe_dump(data, sort_keys=False), highlight=False, markup=False)

    @group.command("check")
    def check(config: ConfigOption = None) -> None:
        """Validate the configuration; exit 2 with the file and key path on the first error."""
        settings = settings_or_exit(config)
        enabled = ", ".join(settings.venues.enabled)
        console.print(f"config OK: {settings.source} (venues: {enabled})", highlight=False)

    app.add_typer(group, name="config")
