"""The grant agreement (DESIGN.md section 8): drawn up at offer, kept, accepted by version."""

import hashlib
from dataclasses import replace
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlalchemy import select, text

from workflow.errors import NotFound, PermissionDenied
from workflow.services import agreements, lifecycle
from workflow.storage.tables import agreements as agreements_t, cases, history

from tests.workflow.awarding import offer, recommended


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def history_rows(engine, ref):
    with engine.connect() as conn:
        return {
            r.trigger: r.payload
            for r in conn.execute(
                select(history.c.trigger, history.c.payload)
                .join(cases, cases.c.id == history.c.case_id)
                .where(cases.c.ref == ref, history.c.checkpoint.is_(None))
            )
        }


@pytest.fixture
def offered(any_db):
    from tests.builders import World

    world = World(any_db).cast()
    ref = recommended(world, amount="250000")
    offer(world, ref)
    return world, ref


def test_an_offer_draws_up_agreement_version_one_and_its_row_names_the_pdfs_hash(offered):
    world, ref = offered

    shown, data = agreements.document(world.engine, ref)

    pages, words = pdf_text(data)
    assert pages >= 1
    assert ref in words and "£250,000" in words
    assert "Department for Communities and Local Government" in words
    assert "Council E07000026" in words and "Council E07000028" in words  # lead and partner
    assert "Q4" in words  # the returns
    assert "spent only on the transformation" in words  # a condition
    digest = hashlib.sha256(data).hexdigest()
    assert shown["version"] == 1 and shown["sha256"] == digest
    assert history_rows(world.engine, ref)["offer"]["agreement"] == {"version": 1, "sha256": digest}


def test_the_award_email_links_the_agreement_the_council_accepts(offered):
    from workflow.storage.tables import outbox

    world, ref = offered
    with world.engine.connect() as conn:
        (mail,) = conn.execute(
            select(outbox.c.body_text, outbox.c.body_html).where(
                outbox.c.case_ref == ref, outbox.c.kind == "bid.award_offered"
            )
        ).all()
    # The email queued with the offer (not a template fed a link): the agreement's page.
    link = f"/cases/{ref}/agreement"
    assert link in mail.body_text and f'{link}"' in mail.body_html
    assert "Accepting the award accepts that agreement" in " ".join(mail.body_text.split())


def test_accepting_records_the_version_and_hash_accepted(offered):
    world, ref = offered

    world.advance(ref, "accept", by="cllr")

    listed = agreements.listing(world.engine, ref)
    assert listed["accepted_version"] == {"version": 1, "sha256": listed["versions"][0]["sha256"]}
    assert listed["versions"][0]["accepted_by_council"] is True
    assert (
        history_rows(world.engine, ref)["accept"]["agreement_accepted"]
        == listed["accepted_version"]
    )


def test_a_kept_agreement_cannot_be_changed_or_removed(offered):
    world, ref = offered

    for sql in ("UPDATE agreements SET sha256 = 'x'", "DELETE FROM agreements"):
        with pytest.raises(Exception, match="append-only"):
            with world.engine.begin() as conn:
                conn.execute(text(sql))

    assert agreements.document(world.engine, ref)[0]["version"] == 1


def test_an_agreement_that_no_longer_matches_its_hash_is_not_served(db):
    from tests.builders import World

    world = World(db).cast()
    ref = recommended(world)
    offer(world, ref)
    with db.begin() as conn:  # as a database administrator could, triggers off
        conn.execute(text("DROP TRIGGER agreements_no_update"))
        conn.execute(text("UPDATE agreements SET pdf = X'25504446'"))

    with pytest.raises(NotFound, match="no longer matches"):
        agreements.document(db, ref)


def test_a_council_sees_only_its_own_cases_agreement(offered):
    world, ref = offered
    world.org("E09000001")
    world.person("other", "council", org="E09000001")

    with pytest.raises(NotFound):
        agreements.document(world.engine, ref, actor_name="other")
    assert agreements.document(world.engine, ref, actor_name="cllr")[0]["version"] == 1


def test_a_case_never_offered_has_no_agreement(world):
    world.cast()
    ref = recommended(world)

    with pytest.raises(NotFound, match="no grant agreement"):
        agreements.document(world.engine, ref)
    assert agreements.listing(world.engine, ref)["versions"] == []
    with world.engine.connect() as conn:
        assert conn.execute(select(agreements_t.c.id)).first() is None


def test_a_refused_offer_keeps_no_agreement(world):
    world.cast()
    ref = recommended(world)

    with pytest.raises(PermissionDenied):
        lifecycle.advance(world.engine, ref, "offer", "carol")  # not an approver

    assert agreements.listing(world.engine, ref)["versions"] == []


# --- the offer's PDF is drawn before its transaction takes the write lock -----------------
def _sqlite_path(engine) -> str:
    return engine.test_url.removeprefix("sqlite:///")


def _drawing_spy(monkeypatch, during):
    """Every call of agreement_pdf.draw, in order; `during(n)` runs inside the n-th drawing."""
    import workflow.services.agreement_pdf as agreement_pdf

    drawn_texts = []
    real = agreement_pdf.draw

    def draw(text):
        drawn_texts.append(text)
        during(len(drawn_texts))
        return real(text)

    monkeypatch.setattr(agreement_pdf, "draw", draw)
    return drawn_texts


def _write_without_waiting(path: str) -> None:
    """A write from another connection that will not wait a moment for the write lock."""
    import sqlite3

    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # "database is locked" if a writer holds it
        other.execute("UPDATE organisations SET email = email WHERE code = 'E07000026'")
        other.execute("COMMIT")
    finally:
        other.close()


def test_the_offers_pdf_is_drawn_while_another_connection_may_write(db, monkeypatch):
    from tests.builders import World

    world = World(db).cast()
    ref = recommended(world, amount="250000")
    world.countersign(ref, offering="april")
    drawn = _drawing_spy(monkeypatch, lambda n: _write_without_waiting(_sqlite_path(db)))

    lifecycle.advance(db, ref, "offer", "april")  # as the command line and the demo do

    shown, data = agreements.document(db, ref)
    assert len(drawn) == 1  # drawn once, before the transaction
    assert shown["version"] == 1 and shown["sha256"] == hashlib.sha256(data).hexdigest()
    assert history_rows(db, ref)["offer"]["agreement"] == {"version": 1, "sha256": shown["sha256"]}


def test_a_face_draws_ahead_then_moves_in_its_own_unit_of_work(db, monkeypatch):
    """As the web and the API do: draw_ahead, then the move in the face's unit of work."""
    from tests.builders import World
    from workflow.services.unit_of_work import UnitOfWork

    world = World(db).cast()
    ref = recommended(world, amount="250000")
    world.countersign(ref, offering="april")
    drawn = _drawing_spy(monkeypatch, lambda n: _write_without_waiting(_sqlite_path(db)))

    ahead = lifecycle.draw_ahead(db, ref, "offer")
    with UnitOfWork(db) as uow:
        lifecycle.advance(uow, ref, "offer", "april", drawn=ahead)

    assert len(drawn) == 1
    assert agreements.document(db, ref)[0]["sha256"] == ahead.sha256
    assert lifecycle.draw_ahead(db, ref, "accept") is None  # keeps no agreement
    assert lifecycle.draw_ahead(db, "TCA-2013-9999", "offer") is None  # the move says why


def test_a_change_between_drawing_and_the_transaction_is_drawn_again_inside_it(db, monkeypatch):
    """The lead council renamed while the offer's PDF is drawn: the drawing is not kept,
    the agreement kept says the new name, and its hash is the one the history records."""
    from tests.builders import World

    world = World(db).cast()
    ref = recommended(world, amount="250000")
    world.countersign(ref, offering="april")

    def rename(n):
        if n == 1:
            with db.begin() as conn:
                conn.execute(
                    text(
                        "UPDATE organisations SET name = 'Renamed Council' WHERE code = 'E07000026'"
                    )
                )

    drawn = _drawing_spy(monkeypatch, rename)

    lifecycle.advance(db, ref, "offer", "april")

    shown, data = agreements.document(db, ref)
    assert len(drawn) == 2 and drawn[0] != drawn[1]
    assert drawn[1].parties[1].name == "Renamed Council"
    assert "Renamed Council" in pdf_text(data)[1]
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()
    assert history_rows(db, ref)["offer"]["agreement"] == {"version": 1, "sha256": shown["sha256"]}


def test_a_programme_file_loaded_while_the_pdf_is_drawn_is_drawn_again_inside_it(db, monkeypatch):
    """The programme's file replaced (the funder's name changed) while the offer's PDF is
    drawn: nothing of the case changed, but the drawing is not kept; the agreement kept
    names the new funder."""
    from tests.builders import World
    from workflow.services import programme_files

    world = World(db).cast()
    ref = recommended(world, amount="250000")
    world.countersign(ref, offering="april")
    source = dict(programme_files.bundled_sources())["tca-2013.toml"]
    renamed = source.replace(
        'funder = "Department for Communities and Local Government (DCLG)"',
        'funder = "Ministry of Housing, Communities and Local Government"',
    )
    assert renamed != source

    def reload(n):
        if n == 1:
            with db.begin() as conn:
                programme_files.load(conn, renamed, "tca-2013.toml")

    drawn = _drawing_spy(monkeypatch, reload)

    lifecycle.advance(db, ref, "offer", "april")

    shown, data = agreements.document(db, ref)
    assert len(drawn) == 2
    assert drawn[0].parties[0].name.startswith("Department for Communities")
    assert drawn[1].parties[0].name == "Ministry of Housing, Communities and Local Government"
    assert replace(drawn[0], parties=drawn[1].parties) == drawn[1]  # nothing else changed
    assert shown["sha256"] == hashlib.sha256(data).hexdigest()
    assert history_rows(db, ref)["offer"]["agreement"] == {"version": 1, "sha256": shown["sha256"]}


def test_an_agreement_drawn_ahead_is_the_one_drawn_inside_the_transaction(db):
    """The same text makes the same bytes: what is kept is what the old path would keep."""
    from tests.builders import World
    from workflow.services.agreement_pdf import draw

    world = World(db).cast()
    ref = recommended(world, amount="250000")
    world.countersign(ref, offering="april")
    ahead = lifecycle.draw_ahead(db, ref, "offer")

    lifecycle.advance(db, ref, "offer", "april")

    with db.connect() as conn:
        terms = conn.execute(select(agreements_t.c.terms)).scalar_one()
    from states.agreement import text_from_json

    assert text_from_json(terms) == ahead.text
    assert (
        hashlib.sha256(draw(ahead.text)).hexdigest()
        == ahead.sha256
        == agreements.document(db, ref)[0]["sha256"]
    )
