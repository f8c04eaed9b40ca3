"""`casework demo`: a whole programme year on a fresh SQLite database, simulated.

The clock starts on 22 March 2013, the day both programmes were announced,
and runs to the end of the monitoring year. Everything happens through the
real services: the people's actions, the scheduler's daily sweep and its
outbox deliveries, which go through the SMTP transport to a capture server
on loopback that keeps every message as an .eml file (or, with `--mail
notify`, through GOV.UK Notify's transport to a stand-in for Notify).
"""

from __future__ import annotations

import random
import shutil
import time as walltime
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import Engine, bindparam, select

from notifications.outbox import is_due
from notifications.transports import SmtpTransport, Transport
from states.ladder import LONDON
from workflow import clock
from workflow.runtime import mail, sweep
from workflow.storage.db import make_engine, reading
from demo.agenda import EVENING_DELIVERY_AT, SWEEP_AT, Agenda
from demo.controls import AnnualReviews
from demo.cast import Cast, needed_bodies, register
from demo.diligence import report_rows as due_diligence_rows
from demo.figures import Figures, gather
from demo.mailcatch import MailCatcher
from demo.payments import PaymentRuns, payment_story
from demo.notify_catcher import NotifyCatcher
from demo.plans import plan_areas, plan_bids
from demo.progress import Progress
from demo.pstn import Network
from demo.returns import MonitoringYear
from demo.story import DemoStepFailed, Event, Size, Story
from demo.tca import TcaRound
from demo.variation import OneVariation, variation_rows
from demo.clarifications import clarification_rows
from workflow.errors import Refused
from workflow.storage.tables import outbox
from workflow.services.setup import init

START = datetime(2013, 3, 22, 10, 0, tzinfo=LONDON)  # the announcement
SENDER = "Transformation programmes <casework@casework-demo.example.org>"
DEMO_OWNER = "casework-demo"
MAIL_VIA = ("smtp", "notify")
# The capture server is on loopback in this process: a slow answer only means
# the machine is busy, never that the server is gone. A short timeout there
# (it was 10 s a step) made a loaded machine give up on messages the server
# had already kept, and send them again (issue 18, point 9).
CATCHER_TIMEOUT_SECONDS = 300
# What the demo writes into its folder, and so what --force replaces.
ARTEFACTS = (
    "casework.db",
    "casework.db-wal",
    "casework.db-shm",
    "casework.db-journal",
    "report.html",
)
FOLDERS = ("mail", "casework-files")


class FolderInUse(Refused):
    def __init__(self, out: Path):
        super().__init__(
            f"{out} already exists, so the demo will not write into it. Choose "
            f"another folder with --out, or add --force to replace the demo "
            f"files in it (casework.db, mail/, report.html)."
        )


@dataclass
class DemoResult:
    out: Path
    db_url: str
    seed: int
    size: str
    figures: Figures
    log: list[Event]
    cast: Cast
    habits: dict[str, str]
    mail_received: int
    mail_repeats: int  # received again after a late answer (kept once)
    mail_via: str  # "smtp" or "notify": how the mail left (MAIL_VIA)
    password: str | None  # the sample people's web sign-in password (demo data)
    no_password_why: str | None
    seconds: float
    started: datetime  # the real moment the run began (the report's one varying line)


def prepare_folder(out: Path, *, force: bool) -> None:
    """Refuse an existing folder unless forced; forced, clear only what the demo writes."""
    if out.exists():
        if not force:
            raise FolderInUse(out)
        if not out.is_dir():
            raise Refused(f"{out} is a file, not a folder: choose another --out.")
        for name in ARTEFACTS:
            (out / name).unlink(missing_ok=True)
        for name in FOLDERS:
            if (out / name).is_dir():
                shutil.rmtree(out / name)
    out.mkdir(parents=True, exist_ok=True)


def run_demo(
    out: Path | str = "casework-demo",
    *,
    seed: int = 2013,
    size: str = "full",
    force: bool = False,
    stream: TextIO | None = None,
    live: bool | None = None,
    mail_via: str = "smtp",
) -> DemoResult:
    """Play the year into `out`; returns what happened, read back from the database.

    `mail_via` is how its email leaves: "smtp" to a capture server, or "notify"
    through GOV.UK Notify's transport to its stand-in (receipts asked for at the end)."""
    if mail_via not in MAIL_VIA:
        raise Refused(f"The demo sends its mail by {' or '.join(MAIL_VIA)}, not {mail_via!r}.")
    out = Path(out)
    size_ = Size.named(size)
    prepare_folder(out, force=force)
    started, tick = clock.real_now().astimezone(), walltime.perf_counter()
    db_url = f"sqlite:///{out / 'casework.db'}"
    engine = make_engine(db_url)
    try:
        with clock.simulate(START) as simulated, _catcher(mail_via, out / "mail") as catcher:
            init(engine)
            story = Story(engine, Agenda(simulated), random.Random(seed), size_)
            transport = _transport(catcher)
            cast, year = _plot(story)
            with Progress(engine, stream=stream, enabled=live) as progress:
                story.chapter = progress.chapter
                story.agenda.run(daily=lambda day: _scheduler_day(story, transport, progress, day))
            _deliver(engine, transport)
            if isinstance(catcher, NotifyCatcher):
                mail.poll_receipts(engine, transport=transport)
                catcher.keep(engine, SENDER)
            end = story.today()
            figures = gather(engine, end=end)
            figures.extra["variations"] = variation_rows(engine)
            figures.extra["clarifications"] = clarification_rows(engine)
            figures.extra["diligence"] = due_diligence_rows(engine)
            figures.extra["payments"] = payment_story(engine)
            received, repeats = len(catcher.caught), catcher.repeats
        password, why_not = _sample_sign_ins(engine)
    finally:
        engine.dispose()
    return DemoResult(
        out=out,
        db_url=db_url,
        seed=seed,
        size=size_.name,
        figures=figures,
        log=story.log,
        cast=cast,
        habits=year.habit_of,
        mail_received=received,
        mail_repeats=repeats,
        mail_via=mail_via,
        password=password,
        no_password_why=why_not,
        seconds=walltime.perf_counter() - tick,
        started=started,
    )


def _plot(story: Story) -> tuple[Cast, MonitoringYear]:
    """Register the cast and book the whole story in the diary."""
    bids = plan_bids(story.size, story.rng)
    areas = plan_areas(story.size, story.rng)
    leads = {b.lead.code for b in bids} | {a.lead.code for a in areas}
    cast = register(story, needed_bodies(bids, areas, everyone=story.size.name == "full"), leads)
    year = MonitoringYear(story, cast)
    varied = OneVariation(story, cast)
    annual = AnnualReviews(story, cast, year.habit_of)
    runs = PaymentRuns(story, cast)

    def accepted(ref: str) -> None:
        year.begin(ref)
        varied.consider(ref)
        annual.begin(ref)
        runs.start()

    TcaRound(story, cast, bids, on_accepted=accepted).book()
    Network(story, cast, areas, on_active=year.begin).book()
    return cast, year


def _catcher(mail_via: str, folder: Path) -> MailCatcher | NotifyCatcher:
    return NotifyCatcher(folder) if mail_via == "notify" else MailCatcher(folder)


def _transport(catcher: MailCatcher | NotifyCatcher) -> Transport:
    if isinstance(catcher, NotifyCatcher):
        return catcher.transport()
    return SmtpTransport("127.0.0.1", catcher.port, tls="none", timeout=CATCHER_TIMEOUT_SECONDS)


def _scheduler_day(story: Story, transport: Transport, progress: Progress, day: date) -> None:
    """The jobs `casework serve` runs, as they fall in one day: sweep, then deliveries."""
    engine = story.engine

    def morning() -> None:
        report = sweep.sweep(engine, owner=DEMO_OWNER)
        if report.errors:
            raise DemoStepFailed(f"The sweep of {day:%d %B %Y} failed: {'; '.join(report.errors)}")
        _deliver(engine, transport)
        progress.day(day)

    story.agenda.book_day(day, SWEEP_AT, morning)
    story.agenda.book_day(day, EVENING_DELIVERY_AT, lambda: _deliver(engine, transport))


def _sample_sign_ins(engine: Engine) -> tuple[str | None, str | None]:
    """Give every sample person the demo password, so the web app can be browsed."""
    try:
        from workflow.services.passwords import DEMO_PASSWORD, sample_passwords
    except ImportError as err:  # the web app is an optional part of an installation
        return None, f"the web app's password module could not be loaded ({err})"
    sample_passwords(engine, password=DEMO_PASSWORD)
    return DEMO_PASSWORD, None


_DUE = select(outbox.c.id).where(is_due(bindparam("now"))).limit(1)


def _deliver(engine: Engine, transport: Transport) -> None:
    """The delivery job. Most simulated runs find nothing due, and then the real job does
    nothing either; looking first spares each empty run its event loop (milliseconds each,
    over a thousand runs in a year)."""
    with reading(engine) as conn:
        if conn.execute(_DUE, {"now": clock.now()}).first() is None:
            return
    # A message that fails is retried by a later run, as in the real job; the summary's
    # message table shows any left queued or dead.
    mail.deliver(engine, transport=transport, sender=SENDER, owner=DEMO_OWNER)
