"""`casework audit verify|export|admin|keygen|seal|proof`."""

import sys
from pathlib import Path
from typing import Optional

import typer

from workflow import clock
from workflow.cli import summary
from workflow.cli._common import AS_READER_OPT, CASE_REF, JSON_OPT, Reader, emit, engine
from workflow.storage.db import reading
from workflow.services.export import FORMATS, chunks
from workflow.services.chain import stream, verify as verify_chains
from workflow.services.lifecycle import load_case
from workflow.errors import SetupError

audit_app = typer.Typer(help=summary("audit"), no_args_is_help=True)


@audit_app.command("verify", short_help="Check every hash chain and seal; name what is broken.")
def verify(
    public_key: Optional[Path] = typer.Option(
        None,
        "--public-key",
        metavar="FILE",
        help="The seals' public key, as `audit keygen` printed it (default: the keys "
        "recorded at keygen).",
    ),
    seals_dir: Optional[Path] = typer.Option(
        None,
        "--seals",
        metavar="DIR",
        help="Also check the seal copies kept in DIR (from CASEWORK_SEAL_DIR).",
    ),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Recompute every case's chain and the admin log's, and check every seal against the rows.

    Names the first broken row of each broken case and of the admin log, history
    rows whose case is gone, and each seal whose rows no longer match or whose
    signature fails.
    """
    Reader(actor).require("history")  # as /audit/…: auditors and caseworkers
    from workflow.services.seal_check import check
    from workflow.services.seals import read_public_key, rows_text

    trusted = {read_public_key(public_key)} if public_key else None
    if seals_dir is not None and not seals_dir.is_dir():
        raise typer.BadParameter(f"'{seals_dir}' is not a directory", param_hint="--seals")
    from workflow.services import admin_log

    with reading(engine()) as conn:
        result = verify_chains(conn)
        admin = admin_log.verify(conn)
        sealed = check(conn, trusted=trusted, copies=seals_dir)
    broken = len(result.broken) + len(sealed.problems) + len(admin.problems)
    if as_json:
        emit(
            {
                "cases": result.cases,
                "rows": result.rows,
                "broken": [{"case": k, "problem": v} for k, v in result.broken.items()],
                "admin_log": {"rows": admin.rows, "problems": admin.problems},
                "seals": {
                    "checked": sealed.checked,
                    "sealed_rows": sealed.sealed_rows,
                    "problems": sealed.problems,
                },
            },
            True,
        )
    else:
        for ref, problem in result.broken.items():
            typer.echo(f"{ref}: {problem}")
        for problem in admin.problems + sealed.problems:
            typer.echo(problem)
        if sealed.checked:
            seals = "seal" if sealed.checked == 1 else "seals"
            n = len(sealed.problems)
            held = f"; {n:,} {'problem' if n == 1 else 'problems'} with them, above" if n else ""
            typer.echo(
                f"{sealed.checked:,} {seals} checked, covering "
                f"{rows_text(sealed.sealed_rows)}{held}"
            )
        typer.echo(result.summary(also_broken=len(sealed.problems) + len(admin.problems)))
    if broken:
        raise typer.Exit(1)


@audit_app.command("admin", short_help="What administrators changed: the admin log.")
def admin(
    action: Optional[str] = typer.Option(
        None, "--action", metavar="ACTION", help="Only this kind of change, e.g. org_update."
    ),
    target: Optional[str] = typer.Option(
        None,
        "--target",
        metavar="CODE|NAME",
        help="Only changes to this organisation, person or programme.",
    ),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = JSON_OPT,
) -> None:
    """Every change an administrator made, oldest first: who, when, what, before and after."""
    Reader(actor).require("audit_export")  # as the API's admin log: auditors
    from states.words import admin_label
    from workflow.cli._words import admin_rows
    from workflow.errors import Malformed
    from workflow.services import admin_log

    if action is not None and action not in admin_log.ACTIONS:
        # A mistyped kind of change would otherwise look like a log with none of it.
        raise Malformed.unknown("kind of change", action, admin_log.ACTIONS, admin_label)
    with reading(engine()) as conn:
        found = admin_log.rows(conn, action=action, target=target)
        if not found:
            admin_log.refuse_unknown_target(conn, target)
    if as_json:
        emit(found, True)
    else:
        emit(admin_rows(found), False, ["id", "when", "who", "change", "of", "before", "after"])


@audit_app.command("keygen", short_help="Make the Ed25519 key that signs seals.")
def keygen(
    out: Path = typer.Option(
        ...,
        "--out",
        metavar="FILE",
        help="Where to write the private key (mode 0600; never "
        "overwritten). Name it in CASEWORK_AUDIT_KEY.",
    ),
) -> None:
    """Write a new private key to FILE and print its public key (recorded in the database too).

    Keep the private key off the database's machine's backups; give auditors the
    printed public key (`audit verify --public-key FILE`).
    """
    from workflow.services.seals import generate, public_text, record_key

    eng = engine()
    key = generate(out)
    record_key(eng, key.public_key())
    typer.echo(public_text(key.public_key()))


@audit_app.command("seal", short_help="Sign the Merkle root of every history row.")
def seal(
    previous_key: Optional[Path] = typer.Option(
        None,
        "--previous-key",
        metavar="FILE",
        help="The key the last seal was signed with, when CASEWORK_AUDIT_KEY names a new "
        "one (the new key's first seal is signed by both).",
    ),
) -> None:
    """Seal every history row written so far with the key in CASEWORK_AUDIT_KEY.

    Stores the seal (the database refuses to change it) and writes a copy to
    CASEWORK_SEAL_DIR when it is set. Prints the seal's number, rows and root.
    """
    from workflow.services.seals import (
        KEY_SETTING,
        PREVIOUS_KEY_SETTING,
        key_from_env,
        load_private_key,
        rows_text,
        seal_and_copy,
    )

    key = key_from_env()
    if key is None:
        raise SetupError(
            f"No key to seal with: set {KEY_SETTING} to the file "
            f"`casework audit keygen --out FILE` wrote."
        )
    old = (
        load_private_key(previous_key, "--previous-key")
        if previous_key
        else key_from_env(setting=PREVIOUS_KEY_SETTING)
    )
    made, copy = seal_and_copy(engine(), key, previous_key=old)
    typer.echo(f"{made.label}: {rows_text(made.tree_size)}, root {made.statement['root']}")
    typer.echo(
        f"copy written to {copy}"
        if copy
        else "no copy written (set CASEWORK_SEAL_DIR to keep one off the server)"
    )


@audit_app.command("proof", short_help="One history row, its seal and its inclusion path.")
def proof(
    ref: str = CASE_REF,
    seq: int = typer.Argument(
        ..., metavar="SEQ", min=1, help="The row's number in the case's history."
    ),
    as_json: bool = JSON_OPT,
) -> None:
    """Print a row, the newest seal covering it and its RFC 9162 inclusion path.

    With the public key alone an auditor can check that the row is the one sealed.
    """
    from workflow.services.seal_check import proof as make_proof

    with reading(engine()) as conn:
        found = make_proof(conn, ref.upper(), seq)
    if as_json:
        emit(found, True)
    else:
        typer.echo(
            f"{ref.upper()} row {seq}: leaf {found['leaf_index']:,} of {found['tree_size']:,}, "
            f"seal {found['seal']['seal']} ({found['seal']['sealed_at'][:10]})"
        )
        for step in found["inclusion_path"]:
            typer.echo(f"  {step}")


@audit_app.command("export")
def export(
    fmt: Optional[str] = typer.Option(None, "--format", metavar="csv|json"),
    case: Optional[str] = typer.Option(None, "--case", metavar="REF", help="Only this case."),
    since: Optional[str] = typer.Option(
        None, "--since", metavar="TIME", help="Rows from this time on (ISO 8601; no offset = UTC)."
    ),
    actor: Optional[str] = AS_READER_OPT,
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
) -> None:
    """Stream history rows (every case, or one) as CSV or JSON."""
    # Every read command takes --json (DESIGN section 6); here it is --format json.
    if as_json and fmt not in (None, "json"):
        raise typer.BadParameter(f"--json asks for JSON, --format for {fmt}: give one")
    fmt = "json" if as_json else fmt
    if fmt is None:
        raise typer.BadParameter(
            "give --format csv or --format json (or --json)", param_hint="--format"
        )
    Reader(actor).require("audit_export")
    if fmt not in FORMATS:
        raise typer.BadParameter(f"'{fmt}' is not csv or json", param_hint="--format")
    try:
        since_at = clock.parse_moment(since) if since else None
    except ValueError:
        raise typer.BadParameter(
            f"'{since}' is not an ISO 8601 time", param_hint="--since"
        ) from None
    with reading(engine()) as conn:
        case_id = load_case(conn, case).id if case else None
        for chunk in chunks(stream(conn, case_id=case_id, since=since_at), fmt):
            sys.stdout.write(chunk)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
