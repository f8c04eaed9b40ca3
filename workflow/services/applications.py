"""Application versions and amendments (DESIGN section 10).

Every document a case's application has held is kept in `application_versions`
(append-only): version 1 is what the case was opened with, and each amendment
adds the next. The case row holds the current one (`cases.application`, with
the columns read from it: title, category, partners, amount).

An amendment (`amend`) is allowed only while the case's definition counts its
state as `amendable` (a draft; a bid waiting for the council's answer), only
by the lead council's people or a caseworker (`access.may_act(..., "amend")`).
The new document is checked by the same document rules as `case open`; its
programme and lead cannot change. It is written through the one chain writer
in the caller's unit of work: the case row with its version moved on, a
no-state history row `amend` whose payload holds the new application version,
the document's SHA-256 (`states.documents.document_hash`) and the names of the
fields that changed, and the version's own row. A refusal writes nothing.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from sqlalchemy import Connection, Engine, bindparam, delete, func, select

from states import DEFINITIONS
from states.documents import changed_fields, comparison, document_hash
from workflow.errors import NotFound, RuleViolation, checked_text
from workflow.logs import event
from workflow.services import directory, reads
from workflow.services.access import check_visible, may_act
from workflow.services.chain import Entry, change
from workflow.services.engine import Actor
from workflow.services.unit_of_work import UnitOfWork, unit
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord
from workflow.storage.tables import application_versions, case_orgs

__all__ = [
    "keep_version",
    "amend",
    "attach",
    "amendable",
    "latest_version",
    "versions",
    "version_of",
    "compare",
    "show_version",
    "VersionNotFound",
]

log = logging.getLogger("casework.cases")

_KEEP = Prepared(
    application_versions.insert().values(
        {
            n: bindparam(n)
            for n in ("case_id", "version", "document", "sha256", "changed", "actor", "at")
        }
    )
)


class VersionNotFound(NotFound):
    def __init__(self, ref: str, version: int, latest: int):
        self.ref, self.version, self.latest = ref, version, latest
        super().__init__(
            f"{ref} has no application version {version}: its versions are 1 to {latest}."
        )


def keep_version(
    conn: Connection,
    case_id: int,
    version: int,
    document: Mapping[str, Any],
    changed: Sequence[str],
    actor: str,
    at: datetime,
) -> str:
    """Store version `version` of a case's document; its SHA-256."""
    digest = document_hash(document)
    _KEEP.rowcount(
        conn,
        {
            "case_id": case_id,
            "version": version,
            "document": dict(document),
            "sha256": digest,
            "changed": list(changed),
            "actor": actor,
            "at": at,
        },
    )
    return digest


def latest_version(conn: Connection, case_id: int) -> int:
    """The number of the case's newest application version (1 for a case never amended)."""
    n = conn.execute(
        select(func.max(application_versions.c.version)).where(
            application_versions.c.case_id == case_id
        )
    ).scalar()
    return int(n or 1)


def amendable(case: CaseRecord) -> bool:
    """Whether the case's document may be changed in the state it is in."""
    return DEFINITIONS[case.kind].is_in(case.state, "amendable")


# --- amending ------------------------------------------------------------------
def amend(
    work: UnitOfWork | Engine,
    case: str | CaseRecord,
    document: Mapping[str, Any],
    actor: Actor | str,
    *,
    reason: str | None = None,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Replace the application of `case` (a reference or the record read) with `document`.

    Returns the case as `lifecycle.case_json` gives it, with `application_version`
    (the new version's number) and `changed` (the fields that changed).
    `expected_version` is the case version the page, script or If-Match saw.
    """
    from workflow.services import lifecycle

    began = time.perf_counter()
    with unit(work) as uow:
        conn = uow.conn
        record = lifecycle.load_case(conn, case, hold=True) if isinstance(case, str) else case
        who = actor if isinstance(actor, Actor) else directory.actor(conn, actor)
        role = _may_amend(record, who, expected_version)
        reason = checked_text("reason", reason)
        # A draft may still leave out what its first state's rules ask at `submit`.
        app = lifecycle.check_document(
            conn, record.kind, document, draft=record.state == DEFINITIONS[record.kind].initial
        )
        new = app.to_json()
        old = dict(record.application or {})
        _refuse_moves(record, old, new)
        _refuse_unknown_files(uow, old, new)
        changed = changed_fields(record.kind, old, new)
        if not changed:
            raise RuleViolation(
                f"The document is the same as {record.ref}'s current "
                f"application; nothing was written."
            )
        version = latest_version(conn, record.id) + 1
        digest = document_hash(new)
        entry = Entry(
            from_state=record.state,
            to_state=record.state,
            trigger="amend",
            actor=who.name,
            role=role,
            reason=reason,
            at=uow.now,
            payload={"application_version": version, "document_sha256": digest, "changed": changed},
        )
        partners = list(getattr(app, "partners", ())) if record.kind == "bid" else []
        after = change(
            conn,
            record,
            entry,
            values={
                "application": new,
                "title": app.title,
                "category": getattr(app, "category", None),
                "partners": partners,
                "amount_pence": getattr(app, "amount_pence", None),
                "updated_at": uow.now,
            },
        )
        keep_version(conn, record.id, version, new, changed, who.name, uow.now)
        if record.kind == "bid" and "partners" in changed:
            _partners_moved(conn, record, partners)
        shown = lifecycle.case_json(conn, after, who)
    event(
        log,
        "case.amended",
        f"application version {version}: {len(changed)} fields changed",
        case=record.ref,
        person=who.name,
        seconds=time.perf_counter() - began,
    )
    return {**shown, "application_version": version, "changed": changed}


def _may_amend(
    record: CaseRecord,
    who: Actor,
    expected_version: int | None,
    *,
    content: Callable[[], object] = lambda: None,
) -> str:
    """The role `who` amends `record` in, or the refusal: not visible, not theirs, the
    request's own content refused (`content`), stale, or a state where the document may not
    change. The content is judged before the version: RFC 9110 (section 13.2.2) evaluates
    If-Match after the request's own checks, so a file the rules refuse is refused as such
    even from a stale page or script, rather than answered 412."""
    from workflow.services import lifecycle

    check_visible(who, record)  # another council's case is "not found"
    role = may_act(who, "amend", record.lead, f"amend {record.ref}'s application")
    content()
    lifecycle.refuse_stale(record, expected_version)
    definition = DEFINITIONS[record.kind]
    if not amendable(record):
        allowed = " or ".join(
            f"'{definition.state_label(s)}'" for s in definition.group("amendable")
        )
        raise RuleViolation(
            f"{record.ref} is {definition.state_label(record.state)}, so "
            f"its application cannot be amended: only while it is "
            f"{allowed}. Nothing was written."
        )
    return role


def attach(
    work: UnitOfWork | Engine,
    case: str | CaseRecord,
    name: str,
    data: bytes,
    actor: Actor | str,
    *,
    expected_version: int | None = None,
) -> dict[str, Any]:
    """Attach an evidence file to the application: an amendment whose document lists it
    in `evidence` (`{"name", "sha256", "size", "media_type"}`), the file kept by its hash
    under the same type and size rules as a return's (`services.attachments`).

    Who may amend the case is checked first, then the file's name, type and size, then
    the version and the state (`_may_amend`); only then is the file kept."""
    from workflow.services import attachments, lifecycle

    with unit(work) as uow:
        record = lifecycle.load_case(uow.conn, case, hold=True) if isinstance(case, str) else case
        who = actor if isinstance(actor, Actor) else directory.actor(uow.conn, actor)
        _may_amend(record, who, expected_version, content=lambda: attachments.check(name, data))
        stored = attachments.store(name, data, attachments.files_root(uow.engine))
        document = dict(record.application or {})
        listed = [f for f in document.get("evidence") or () if isinstance(f, Mapping)]
        if any(f.get("sha256") == stored.sha256 and f.get("name") == stored.name for f in listed):
            # Said as what it is, not as "the document is the same" (which it also is).
            raise RuleViolation(
                f"{stored.name} is already attached to {record.ref}'s application; "
                f"nothing was written."
            )
        kept = [
            f
            for f in document.get("evidence") or ()
            if isinstance(f, Mapping) and f.get("sha256") != stored.sha256
        ]
        document["evidence"] = [*kept, stored.as_json()]
        return amend(uow, record, document, who, reason=f"Evidence attached: {stored.name}")


def _refuse_moves(case: CaseRecord, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """An amendment keeps the case's programme and lead: a different one is a new case."""
    problems = [
        f"{name}: {case.ref} belongs to {old.get(name)!s}; an amendment cannot move it "
        f"to {new.get(name)!s}"
        for name in ("programme", "lead")
        if old.get(name) is not None and new.get(name) != old.get(name)
    ]
    if problems:
        raise RuleViolation(
            f"The amended document is refused: {'; '.join(problems)}. Nothing was written.",
            problems,
        )


def _refuse_unknown_files(uow: UnitOfWork, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """A document may list as evidence only files that were uploaded (kept by their hash):
    one it already listed, or one stored since (`attach`, the web's evidence page)."""
    from workflow.services import attachments

    listed = new.get("evidence")
    if listed is None:
        return
    had = {f.get("sha256") for f in old.get("evidence") or () if isinstance(f, Mapping)}
    root = attachments.files_root(uow.engine)
    problems: list[str] = []
    for i, item in enumerate(listed if isinstance(listed, list) else [listed]):
        sha = item.get("sha256") if isinstance(item, Mapping) else None
        if sha in had:
            continue
        try:
            known = isinstance(sha, str) and attachments.path_for(sha, root).is_file()
        except NotFound:
            known = False
        if not known:
            problems.append(
                f"evidence[{i}]: no file with that SHA-256 was uploaded "
                f"(attach a file to the application to list it)"
            )
    if problems:
        raise RuleViolation(
            f"The amended document is refused: {'; '.join(problems)}. Nothing was written.",
            problems,
        )


def _partners_moved(conn: Connection, case: CaseRecord, partners: Sequence[str]) -> None:
    """The case's organisations index (case_orgs) follows the new partners."""
    conn.execute(
        delete(case_orgs).where(case_orgs.c.case_id == case.id, case_orgs.c.role == "partner")
    )
    rows = [
        {"org": p, "case_id": case.id, "role": "partner"}
        for p in dict.fromkeys(partners)
        if p != case.lead
    ]
    if rows:
        conn.execute(case_orgs.insert(), rows)


# --- reading -------------------------------------------------------------------
def _visible_case(uow: UnitOfWork, ref: str, actor: Actor | str | None) -> CaseRecord:
    record = reads.load_case(uow.conn, ref)
    if actor is not None:
        who = actor if isinstance(actor, Actor) else directory.actor(uow.conn, actor)
        check_visible(who, record)
    return record


def _row_json(row: Any, *, with_document: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": row.version,
        "sha256": row.sha256,
        "changed": list(row.changed),
        "actor": row.actor,
        "at": row.at.isoformat(),
    }
    if with_document:
        out["document"] = dict(row.document)
    return out


def versions(
    work: UnitOfWork | Engine, ref: str, actor: Actor | str | None = None
) -> list[dict[str, Any]]:
    """Every application version of a case, oldest first, without their documents."""
    with unit(work, read_only=True) as uow:
        record = _visible_case(uow, ref, actor)
        rows = uow.conn.execute(
            select(
                application_versions.c.version,
                application_versions.c.sha256,
                application_versions.c.changed,
                application_versions.c.actor,
                application_versions.c.at,
            )
            .where(application_versions.c.case_id == record.id)
            .order_by(application_versions.c.version)
        )
        return [_row_json(r, with_document=False) for r in rows]


def _version_row(conn: Connection, record: CaseRecord, version: int | None) -> Any:
    q = select(application_versions).where(application_versions.c.case_id == record.id)
    if version is None:
        q = q.order_by(application_versions.c.version.desc()).limit(1)
    else:
        q = q.where(application_versions.c.version == version)
    row = conn.execute(q).first()
    if row is None:
        raise VersionNotFound(record.ref, version or 1, latest_version(conn, record.id))
    return row


def version_of(
    work: UnitOfWork | Engine,
    ref: str,
    version: int | None = None,
    actor: Actor | str | None = None,
) -> dict[str, Any]:
    """Application version `version` of a case (its newest when None), with its document,
    `latest`, the newest version's number, and `case_version`, the case's own version."""
    with unit(work, read_only=True) as uow:
        record = _visible_case(uow, ref, actor)
        row = _version_row(uow.conn, record, version)
        return {
            "ref": record.ref,
            "kind": record.kind,
            "case_version": record.version,
            "latest": latest_version(uow.conn, record.id),
            **_row_json(row, with_document=True),
        }


def compare(
    work: UnitOfWork | Engine, ref: str, before: int, after: int, actor: Actor | str | None = None
) -> dict[str, Any]:
    """Two application versions of a case field by field: `fields` is a list of
    `{"field", "before", "after", "changed"}` in the document's order."""
    with unit(work, read_only=True) as uow:
        record = _visible_case(uow, ref, actor)
        old = _version_row(uow.conn, record, before)
        new = _version_row(uow.conn, record, after)
        return {
            "ref": record.ref,
            "before": before,
            "after": after,
            "fields": comparison(record.kind, old.document, new.document),
        }


def show_version(
    work: UnitOfWork | Engine, ref: str, version: int, actor: Actor | str | None = None
) -> dict[str, Any]:
    """The case as `reads.case_json` gives it (for `actor`), its `application` the
    document of version `version`, and `application_version` saying which version it is:
    `{"version", "latest", "sha256", "changed", "actor", "at"}` (`case show --version N`)."""
    with unit(work, read_only=True) as uow:
        who = (
            actor if isinstance(actor, Actor) or actor is None else directory.actor(uow.conn, actor)
        )
        record = _visible_case(uow, ref, who)
        row = _version_row(uow.conn, record, version)
        out = reads.case_json(uow.conn, record, who)
        out["application"] = dict(row.document)
        out["application_version"] = {
            "latest": latest_version(uow.conn, record.id),
            **_row_json(row, with_document=False),
        }
        return out
