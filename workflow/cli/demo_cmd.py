"""`casework demo [--out DIR] [--seed N] [--size small|full] [--mail smtp|notify] [--force]`."""

from __future__ import annotations

from pathlib import Path

import typer

from workflow.cli import summary

SIZES = ("small", "full")


def register(app: typer.Typer) -> None:
    @app.command("demo", short_help=summary("demo"))
    def demo(
        out: Path = typer.Option(
            Path("casework-demo"),
            "--out",
            metavar="DIR",
            help="Folder for the demo's database, mail and report "
            "(refused if it exists, unless --force).",
        ),
        seed: int = typer.Option(
            2013, "--seed", metavar="N", help="The same seed plays the same year."
        ),
        size: str = typer.Option("full", "--size", metavar="small|full"),
        mail: str = typer.Option(
            "smtp",
            "--mail",
            metavar="smtp|notify",
            help="How the year's email leaves: over SMTP to a capture "
            "server, or through GOV.UK Notify's transport to a "
            "stand-in for Notify on loopback.",
        ),
        force: bool = typer.Option(
            False, "--force", help="Replace the demo files in an existing folder."
        ),
    ) -> None:
        """A whole programme year on a fresh local database, simulated from 22 March 2013.

        Sample councils bid, are assessed and funded; network areas are chosen; a year of
        monitoring returns is chased by the real sweep; every email goes over SMTP to a
        capture server (or through GOV.UK Notify to a stand-in, --mail notify) and is kept
        under DIR/mail. Ends with a summary and DIR/report.html.
        The global --db is not used: the demo always makes its own database in DIR.
        """
        if size not in SIZES:
            raise typer.BadParameter(f"'{size}' is not small or full", param_hint="--size")
        if mail not in ("smtp", "notify"):
            raise typer.BadParameter(f"'{mail}' is not smtp or notify", param_hint="--mail")
        from demo.report import write_report
        from demo.run import run_demo
        from demo.summary import print_browsing, print_summary

        result = run_demo(out, seed=seed, size=size, force=force, mail_via=mail)
        write_report(result)
        print_summary(result)
        print_browsing(result, result.password, why_not=result.no_password_why)
