"""`casework demo --size small`: a whole programme year, checked against its own database.

The year is played once by the real console script in a subprocess (and once
more in-process with the same seed, for determinism); every figure is checked
against the tables, not against the printed text alone.
"""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from states.ladder import DEFAULT_LADDER
from workflow.services import assessment
from workflow.storage.db import make_engine, reading
from demo import run_demo
from workflow.services.facts import LIVE_OFFER_STATES
from workflow.services.chain import verify
from workflow.storage.tables import cases, checkpoints, history, ledger, outbox

pytestmark = pytest.mark.slow

CASEWORK = str(Path(sys.executable).with_name("casework"))
SEED = "7"
LADDER = [step.name for step in DEFAULT_LADDER]


def casework(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}
    return subprocess.run(
        [CASEWORK, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "casework-demo"
    ran = casework("demo", "--out", str(out), "--seed", SEED, "--size", "small")
    assert ran.returncode == 0, ran.stderr
    engine = make_engine(f"sqlite:///{out / 'casework.db'}")
    yield out, ran, engine
    engine.dispose()


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    """The same seed again, in-process, in another folder."""
    out = tmp_path_factory.mktemp("again") / "casework-demo"
    return run_demo(out, seed=int(SEED), size="small", live=False)


def eml(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


# --- the money ------------------------------------------------------------------
def test_the_ledger_equals_the_offers_still_held(year):
    _, _, engine = year
    with reading(engine) as conn:
        signed = conn.execute(select(ledger.c.entry, ledger.c.amount_pence)).all()
        held = conn.execute(
            select(func.sum(cases.c.amount_pence)).where(
                cases.c.kind == "bid", cases.c.state.in_(LIVE_OFFER_STATES)
            )
        ).scalar()
        declined = conn.execute(
            select(func.count()).select_from(cases).where(cases.c.state == "declined")
        ).scalar()
        releases = sum(1 for entry, _ in signed if entry == "release")

    committed = sum(p if entry == "reserve" else -p for entry, p in signed)
    assert committed == held
    assert 0 < committed <= 900_000_000
    assert declined >= 1 and releases == declined


# --- the ladder -----------------------------------------------------------------
def test_every_missed_return_produced_each_ladder_step_exactly_once(year):
    _, _, engine = year
    with reading(engine) as conn:
        end = conn.execute(select(func.max(history.c.at))).scalar()
        missed = conn.execute(
            select(checkpoints.c.ref, checkpoints.c.due, checkpoints.c.case_id).where(
                checkpoints.c.submitted_at.is_(None)
            )
        ).all()
        rows = conn.execute(
            select(
                history.c.case_id, history.c.checkpoint, history.c.payload, history.c.trigger
            ).where(history.c.role == "system")
        ).all()
        keys = Counter(conn.execute(select(outbox.c.key)).scalars())

    assert missed, "the small year must have a council that never returns"
    held_anywhere = 0
    for ref, due, case_id in missed:
        assert due + timedelta(days=28) < end.date()
        label = ref.rsplit("/", 1)[1]
        steps = Counter(
            p["step"]
            for cid, cp, p, _ in rows
            if cid == case_id and "step" in p and (cp == label or p.get("checkpoint") == label)
        )
        assert steps == Counter(LADDER), f"{ref}: {steps}"
        # A step that fell while its case was suspended is held: recorded, never sent.
        held = {
            p["step"]
            for cid, cp, p, trigger in rows
            if cid == case_id and cp == label and trigger == "held"
        }
        held_anywhere += len(held)
        assert held <= {"overdue", "escalated_1", "escalated_2", "suspended"}, f"{ref}: {held}"
        for step in LADDER[:-1]:
            expected = 0 if step in held else 1
            assert keys[f"{ref}:{step}"] == expected, f"{ref}:{step} sent {keys[f'{ref}:{step}']}"
    assert held_anywhere, "the suspended case's later returns are held, not escalated"


def test_every_rung_fires_and_one_case_is_suspended_and_one_reinstated(year):
    _, _, engine = year
    with reading(engine) as conn:
        kinds = set(conn.execute(select(outbox.c.kind)).scalars())
        suspended = conn.execute(
            select(func.count()).select_from(cases).where(cases.c.state == "suspended")
        ).scalar()
        reinstated = conn.execute(
            select(func.count()).select_from(history).where(history.c.trigger == "reinstate")
        ).scalar()

    assert {f"checkpoint.{s}" for s in LADDER[:-1]} | {"case.suspended", "case.reinstated"} <= kinds
    assert suspended == 1
    assert reinstated == 1


def test_one_assessor_finds_a_conflict_after_scoring_and_their_score_is_set_aside(year):
    _, _, engine = year
    with reading(engine) as conn:
        [late] = [
            r
            for r in conn.execute(
                select(history.c.case_id, history.c.payload).where(history.c.trigger == "declare")
            )
            if r.payload.get("set_aside")
        ]
        ref = conn.execute(select(cases.c.ref).where(cases.c.id == late.case_id)).scalar()
        told = (
            conn.execute(select(outbox.c.key).where(outbox.c.kind == "bid.conflict_declared"))
            .scalars()
            .all()
        )
    shown = assessment.assessment_of(engine, ref)

    assert [s["assessor"] for s in shown["scores"] if not s["counts"]] == [
        late.payload["set_aside"][0]["assessor"]
    ]
    assert len([s for s in shown["scores"] if s["counts"]]) == 2
    assert [k.rsplit(":", 2)[0] for k in told] == [ref]


# --- the mail -------------------------------------------------------------------
def test_every_message_in_the_outbox_arrived_at_the_smtp_server(year):
    out, _, engine = year
    with reading(engine) as conn:
        rows = conn.execute(
            select(
                outbox.c.key, outbox.c.state, outbox.c.to_addrs, outbox.c.cc_addrs, outbox.c.subject
            )
        ).all()
    received = {str(m["X-Casework-Key"]): m for m in map(eml, (out / "mail").glob("*.eml"))}

    assert rows and {r.state for r in rows} == {"sent"}
    assert set(received) == {r.key for r in rows}
    assert len(list((out / "mail").glob("*.eml"))) == len(rows)
    for r in rows:
        message = received[r.key]
        # A long subject is folded straight after "Subject:"; unfolded, it reads the same.
        assert " ".join(str(message["Subject"]).split()) == r.subject
        assert sorted(a.addr_spec for a in message["To"].addresses) == sorted(r.to_addrs)


def test_the_same_seed_gives_byte_identical_mail_bodies(year, replay):
    out, _, _ = year

    def bodies(folder: Path) -> dict[str, list[bytes]]:
        found = {}
        for path in sorted(folder.glob("*.eml")):
            message = eml(path)
            found[path.name] = [
                str(message[h]).encode() for h in ("Subject", "To", "Cc", "Date", "Message-ID")
            ] + [
                part.get_payload(decode=True) for part in message.walk() if not part.is_multipart()
            ]
        return found

    first, second = bodies(out / "mail"), bodies(replay.out / "mail")
    assert first and first == second
    # and the whole files, MIME boundaries included (they come from the Message-ID)
    whole = {p.name: p.read_bytes() for p in sorted((out / "mail").glob("*.eml"))}
    assert whole == {p.name: p.read_bytes() for p in sorted((replay.out / "mail").glob("*.eml"))}


def test_the_same_seed_gives_the_same_report_but_for_the_run_time(year, replay):
    out, _, _ = year

    def page(folder: Path) -> list[str]:
        text = (folder / "report.html").read_text(encoding="utf-8").replace(str(folder), "DIR")
        return [line for line in text.splitlines() if "Built by" not in line]

    from demo.report import write_report

    write_report(replay)
    assert page(out) == page(replay.out)


# --- the audit chain, the report, the terminal ----------------------------------------
def test_the_audit_chain_verifies(year):
    out, _, engine = year
    with reading(engine) as conn:
        result = verify(conn)
    ran = casework("--db", f"sqlite:///{out / 'casework.db'}", "audit", "verify")

    assert result.ok and result.rows > 100
    assert ran.returncode == 0 and ran.stdout.strip().endswith("0 broken")


def test_the_report_is_one_page_that_fetches_nothing(year):
    out, _, engine = year
    page = (out / "report.html").read_text(encoding="utf-8")
    with reading(engine) as conn:
        suspended = conn.execute(select(cases.c.ref).where(cases.c.state == "suspended")).scalar()

    assert "<script" not in page and "<link" not in page and "<img" not in page
    assert " src=" not in page and 'href="http' not in page and "url(http" not in page
    # the fund, the returns and the suspended case's timeline each drawn for a wide column and a
    # phone, and four state machines (a bid, an area, a return, a payment)
    assert page.count("<svg") == 10
    assert 'id="chart-returns-960"' in page and 'id="chart-returns-400"' in page
    assert f"{suspended}'s year at a glance" in page
    assert "cannot be &#39;Submit the bid&#39;: Shared arrangement asks at most £500,000" in page
    assert "(amount)" not in page  # the rules' field code is for the command line, not people
    assert "Sample data" in page


def test_the_terminal_summary_reads_like_the_database_and_says_how_to_browse(year):
    out, ran, engine = year
    with reading(engine) as conn:
        sent = conn.execute(select(func.count()).select_from(outbox)).scalar()
        rows = conn.execute(select(func.count()).select_from(history)).scalar()

    assert "\x1b[" not in ran.stdout  # no live display or colour when piped
    assert f"{sent} sent of {sent} queued; {sent} received by the SMTP server" in ran.stdout
    assert f"{rows:,} rows checked, 0 broken" in ran.stdout
    assert f"casework --db sqlite:///{out / 'casework.db'} serve" in ran.stdout
    assert "carol.hughes" in ran.stdout and "DEMO password 'casework-demo'" in ran.stdout
    # labels, one row a ladder step (no 'escalations to level' repeating the escalations)
    assert "returns that reached 'First escalation'" in ran.stdout
    assert "escalations to level" not in ran.stdout and "escalated_1" not in ran.stdout
    assert "Award offered" in ran.stdout and "bid.award_offered" not in ran.stdout


def test_the_printed_sign_in_opens_the_simulated_year_in_the_web_app(year):
    import re
    from starlette.testclient import TestClient
    from workflow.web.asgi import create_app

    out, ran, engine = year
    with reading(engine) as conn:
        suspended = conn.execute(select(cases.c.ref).where(cases.c.state == "suspended")).scalar()
    app = create_app(engine, scheduler_every=None)

    with TestClient(app, base_url="https://testserver") as browser:
        form = browser.get("/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        landed = browser.post(
            "/sign-in",
            data={"name": "carol.hughes", "password": "casework-demo", "csrf_token": token},
            follow_redirects=True,
        )
        case_page = browser.get(f"/cases/{suspended}")

    assert landed.status_code == 200 and landed.url.path == "/inbox"
    assert case_page.status_code == 200 and suspended in case_page.text


def test_every_refusal_in_the_story_wrote_nothing_to_its_case(replay):
    refusals = [e for e in replay.log if e.refused and e.ref]
    engine = make_engine(replay.db_url)
    with reading(engine) as conn:
        written = {
            (ref, at)
            for ref, at in conn.execute(
                select(cases.c.ref, history.c.at).join(cases, cases.c.id == history.c.case_id)
            )
        }
    engine.dispose()

    assert len(refusals) >= 4  # over a band, over 25% of ESG, scores apart, no contribution
    # (each action that was allowed did leave its row at its moment)
    assert all(
        (e.ref, e.at) in written
        for e in replay.log
        if not e.refused and e.ref and e.what.startswith("submit")
    )
    for e in refusals:
        assert (e.ref, e.at) not in written, f"{e.ref} changed when '{e.what}' was refused"


def test_the_report_quotes_one_message_of_each_kind_and_names_its_file(replay):
    quoted = replay.figures.sample_messages

    assert {m.kind for m in quoted} == set(replay.figures.messages_by_kind)
    for m in quoted:
        kept = eml(replay.out / "mail" / m.file)
        text = kept.get_body(("plain",)).get_content().replace("\r\n", "\n")
        assert str(kept["Subject"]).strip() == m.subject
        assert text.rstrip("\n") == m.text.rstrip("\n")


# --- after the award (issue 19) ---------------------------------------------------------
def test_the_year_pays_tranches_holds_a_suspended_cases_payment_and_varies_one_award(year):
    from workflow.storage.tables import payments, variations

    out, _, engine = year
    with reading(engine) as conn:
        paid = conn.execute(
            select(func.count(), func.sum(payments.c.amount_pence)).where(
                payments.c.state == "paid"
            )
        ).one()
        moves = [
            (r.case_id, r.payment, r.trigger)
            for r in conn.execute(
                select(history.c.case_id, history.c.payment, history.c.trigger)
                .where(history.c.trigger.in_(("hold", "release", "reinstate", "pay")))
                .order_by(history.c.case_id, history.c.seq)
            )
        ]
        approved = conn.execute(
            select(func.count()).select_from(variations).where(variations.c.state == "approved")
        ).scalar()
    # Tranches paid through the year: more than the first one of each award.
    assert paid[0] > len({case for case, _, t in moves if t == "pay"})
    # A payment held while its case was suspended, released when it was reinstated, then paid.
    held = [(case, p) for case, p, t in moves if t == "hold"]
    assert held, "no payment was held by a suspension"
    assert any(
        [t for c, q, t in moves if c == case and (q == p or t == "reinstate")][-3:]
        == ["reinstate", "release", "pay"]
        for case, p in held
    )
    assert approved >= 1
    page = (out / "report.html").read_text(encoding="utf-8")
    # The report: committed against paid over the year, and the awards by council with
    # amount, paid and state.
    assert "Awards by council" in page and "Paid: " in page
    assert f"£{paid[1] // 100:,}" in page
