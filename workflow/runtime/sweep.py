"""The sweep: one function of "now" that does every ladder step whose time has come.

Deadlines are rows: each checkpoint keeps `next_step_at`, the moment of its
next ladder step not yet done (NULL when nothing more is due), and
`steps_done`. A sweep claims the earliest due checkpoint and does its next
step, until nothing due is left. Steps are committed in batches (group
commit): each step is a savepoint of its own inside a batch transaction that
is committed every `BATCH_STEPS` steps, so SQLite at `synchronous=FULL`
waits for the disk once a batch rather than once a step.

- claiming reads the index on `next_step_at` only, so an idle sweep costs the
  same over 4,000 checkpoints or 400,000;
- on PostgreSQL the claim is `FOR UPDATE SKIP LOCKED`, so several workers
  share a backlog without ever taking the same step (a batch keeps its rows
  locked until it commits; a worker that finds a step's case locked commits
  its batch before waiting for it, so two workers never wait for each
  other); on SQLite, BEGIN IMMEDIATE lets one writer at a time in, and a
  long sweep steps aside for other writers after each batch;
- a step is whole or not at all: its checkpoint row, its history row and its
  outbox row are written in its savepoint. A step that fails rolls back its
  own savepoint, is reported and left for the next sweep, and the batch goes
  on;
- a step is done at most once: it is done with its checkpoint row locked, it
  is recorded in `steps_done` in the same transaction, and its message carries
  the idempotency key `<checkpoint>:<step>`, unique in the outbox;
- a step is never lost: a batch lost to a kill or a lost connection rolls
  back whole, so its steps are still due, and they are done again, by this
  sweep on a fresh connection or by the next one;
- what a sweep says it did (its report, `metrics.LADDER_STEPS`, the
  `ladder.step` lines) is what committed: a step is told once its batch has
  committed, never before. (A connection lost during the commit itself leaves
  unknown whether the batch committed: its steps are not told, and if they
  were committed they are not due, so they are not done again either.)

Missed sweeps catch up in order (states.ladder.plan_catch_up); a step done on
a later London day than its own records `late`, with when it was due and done.
The statements of the hot path are prepared once (workflow.storage.prepared).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import Counter
import threading
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import Connection, Engine, RootTransaction, bindparam, select, update

from notifications.kinds import KINDS
from states import CHECKPOINT
from states.ladder import ACTION_KINDS, LadderStep, StepDue, plan_catch_up
from states.programme import ProgrammeSpec
from states.rules import ACTOR_RULES, RULES
from workflow.services import lifecycle as case_service
from workflow import clock
from workflow.services import messages, reviews
from workflow.runtime import metrics
from workflow.storage.db import is_postgres
from workflow.storage.dbfaults import is_disconnect, stops_everything
from workflow.services.engine import Actor, plan
from workflow.logs import event
from workflow.errors import ConflictError
from workflow.services.chain import Entry, change, moment, settle_checkpoint
from workflow.storage.tables import cases, checkpoints
from workflow.services.monitoring import CHASED, COLLECTING, HOLDING, label, pending_steps
from workflow.storage.prepared import Prepared
from workflow.storage.records import CaseRecord, CheckpointRecord
from workflow.services.unit_of_work import UnitOfWork
from workflow.runtime.status import record_sweep, refuse_going_back

__all__ = ["sweep", "SweepReport", "message_kind", "default_owner"]

log = logging.getLogger("casework.sweep")
SYSTEM = Actor.system()
_TRIES = 3  # a step that loses a race for its case is tried again
_RECONNECTS, _RECONNECT_PAUSE = 3, 1.0  # a lost connection: a fresh one at once, then 1 s, 2 s
_SIMULATING = threading.Lock()
_ENDED, _RESCHEDULED = "ended", "rescheduled"  # what a claim did when it took no step
# Steps committed together. Counted, not timed (a test's frozen clock would
# never end a timed batch). At 50 the commit (at FULL, the wait for the disk)
# is under a percent of a step, and a batch lost is a fraction of a second's work.
# Keep it under 64 for PostgreSQL: each step's savepoint takes a subtransaction
# id, and a transaction holding more than 64 of them (PGPROC_MAX_CACHED_SUBXIDS)
# makes every other session's snapshots look them up in pg_subtrans.
BATCH_STEPS = 50
# SQLite has one writer at a time: a sweep that took the lock again straight
# after each commit would starve a return submitted from the web. Writers wait
# for the lock by trying every millisecond (workflow.storage.db.begin_immediate), so a
# long sweep on SQLite leaves a gap twice that long after each batch. (Before
# batches it did so every 100 steps, and a writer also slipped in between two
# steps now and then; a batch leaves no such chance, so its gap comes sooner.)
_HOLD_STEPS, _ASIDE_SECONDS = BATCH_STEPS, 0.002


@dataclass
class SweepReport:
    """What one sweep did. `steps` counts the steps done by ladder step name."""

    now: datetime
    owner: str
    steps: Counter = field(default_factory=Counter)
    late: int = 0
    skipped: int = 0  # messages not sent under catch_up = "latest" (steps still done)
    stopped: int = 0  # ladders ended: the return is finished or its case ended
    rescheduled: int = 0  # next steps moved because the programme's ladder changed
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.steps.values())

    def __str__(self) -> str:
        kinds = ", ".join(f"{name} {n}" for name, n in sorted(self.steps.items()))
        text = (
            f"sweep at {self.now.isoformat(timespec='seconds')}: {self.total} step"
            f"{'' if self.total == 1 else 's'}{f' ({kinds})' if kinds else ''}, "
            f"{self.late} late, {self.skipped} skipped"
        )
        if self.stopped:
            text += f", {self.stopped} ladders ended"
        if self.rescheduled:
            text += f", {self.rescheduled} rescheduled"
        if self.errors:
            text += f", {len(self.errors)} failed"
        return text + f" in {self.seconds:.3f} s"

    def as_json(self) -> dict:
        return {
            "now": self.now.isoformat(),
            "owner": self.owner,
            "steps": dict(self.steps),
            "total": self.total,
            "late": self.late,
            "skipped": self.skipped,
            "stopped": self.stopped,
            "rescheduled": self.rescheduled,
            "errors": list(self.errors),
            "seconds": round(self.seconds, 4),
        }


class _StepFailed(Exception):
    def __init__(self, checkpoint_id: int, ref: str, cause: BaseException):
        self.checkpoint_id, self.ref, self.cause = checkpoint_id, ref, cause
        super().__init__(f"{ref}: {cause}")


def default_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


# --- the statements of the hot path, built once --------------------------------
_DUE = checkpoints.c.next_step_at <= bindparam("now")
_ORDER = (checkpoints.c.next_step_at, checkpoints.c.id)
# What a step reads of its checkpoint and its case (the case's documents are not read).
_CLAIMED = [
    checkpoints.c[name]
    for name in (
        "id",
        "ref",
        "case_id",
        "state",
        "version",
        "due",
        "level",
        "steps_done",
        "scheduled_at",
    )
]
_STEP_CASE = [
    cases.c[name]
    for name in (
        "id",
        "ref",
        "kind",
        "programme",
        "state",
        "version",
        "title",
        "category",
        "lead",
        "amount_pence",
        "caseworker",
        "at_risk",
        "last_seq",
        "last_hash",
    )
]
CLAIM = select(*_CLAIMED).where(_DUE).order_by(*_ORDER).limit(1)
CLAIM_EXCLUDING = (
    select(*_CLAIMED)
    .where(_DUE, checkpoints.c.id.not_in(bindparam("failed", expanding=True)))
    .order_by(*_ORDER)
    .limit(1)
)
_CASE = select(*_STEP_CASE).where(cases.c.id == bindparam("case_id"))
# PostgreSQL, a batch already holding rows: a case locked elsewhere is not waited for
# while holding them (two workers each waiting for the other's batch would deadlock).
_CASE_NOWAIT = Prepared(_CASE.with_for_update(nowait=True), record=CaseRecord)
_AT_RISK = Prepared(update(cases).where(cases.c.id == bindparam("case_id")).values(at_risk=True))


# Prepared once per process: a sweep that finds nothing due costs about a millisecond,
# so compiling its statements afresh on every sweep would double it.
_PREPARED = {
    "postgresql": (
        Prepared(CLAIM.with_for_update(skip_locked=True), record=CheckpointRecord),
        CLAIM_EXCLUDING.with_for_update(skip_locked=True),
        Prepared(_CASE.with_for_update(), record=CaseRecord),
    ),
    "sqlite": (
        Prepared(CLAIM, record=CheckpointRecord),
        CLAIM_EXCLUDING,
        Prepared(_CASE, record=CaseRecord),
    ),
}


def claim_statements(engine: Engine) -> tuple[Any, Any, Any]:
    """The claim, the claim leaving out failed checkpoints, and the case read, for `engine`.

    The first and last run on every step, so they are prepared; the second
    only after a step has failed.
    """
    return _PREPARED["postgresql" if is_postgres(engine) else "sqlite"]


# --- the sweep -------------------------------------------------------------------
def sweep(
    engine: Engine,
    now: datetime | None = None,
    *,
    owner: str | None = None,
    batch: int = 500,
    should_stop: Callable[[], bool] | None = None,
) -> SweepReport:
    """Do every ladder step due at `now` (default: the clock), each in a savepoint of its
    own, committed `BATCH_STEPS` at a time.

    An explicit `now` earlier than a moment already swept is refused: the
    ladder only goes forward. A long sweep logs its progress every `batch`
    steps; `should_stop` lets a scheduler that is shutting down end the sweep
    between two steps (the batch in hand is committed; what is left stays due
    for the next one).
    """
    started, wall = time.perf_counter(), clock.now()
    if now is not None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        refuse_going_back(engine, now)
    report = SweepReport(now=now or wall, owner=owner or default_owner())
    # An explicit moment is simulated for the whole sweep, so that everything the
    # steps write (the case's suspension, the outbox rows) carries that moment.
    # The simulated clock belongs to the whole process, so such sweeps take
    # turns (they are for the command line and tests, not a serving process).
    with ExitStack() as stack:
        if now is not None:
            stack.enter_context(_SIMULATING)
            stack.enter_context(clock.simulate(now))
        run = _Run(engine.connect(), report)
        # The last one: a lost connection is replaced, and closing one rolls back
        # a batch left open by an error (its steps stay due).
        stack.callback(lambda: run.conn.close())
        stopping = should_stop or (lambda: False)
        run.walk(run.one, stopping, progress_every=batch)
        # Then the annual reviews' steps (DESIGN.md section 9), walked the same way.
        run.walk(run.review_one, stopping)
    report.seconds = time.perf_counter() - started
    event(
        log,
        "sweep.done",
        str(report),
        seconds=report.seconds,
        person="system",
        steps=report.total,
        errors=len(report.errors),
    )
    record_sweep(engine, report, wall)
    metrics.SWEEPS.inc()
    metrics.SWEEP_SECONDS.observe(report.seconds)
    return report


class _Run:
    """One sweep's working state: its connection, the batch open on it and what that batch
    did (told once it commits), caches, and the checkpoints that failed."""

    def __init__(self, conn: Connection, report: SweepReport):
        self.conn, self.report = conn, report
        self.now = report.now
        self.claim, self.claim_excluding, self.case_q = claim_statements(conn.engine)
        self.on_postgres = is_postgres(conn)
        self.failed: set[int] = set()
        self.failed_reviews: set[int] = set()
        self.specs: dict[str, Any] = {}  # programme files, read once per sweep
        self.book = messages.AddressBook()
        self.shares_one_writer = not self.on_postgres
        self.held_for = 0  # steps since the sweep last stepped aside
        self.claimed: str | None = None  # the checkpoint of the step in hand (for its log line)
        self.batch: RootTransaction | None = None
        self.batched: list[Callable[[], None]] = []  # tells what each step of the batch did
        self.reconnects = 0  # connections lost since a batch last committed

    # --- batches ---------------------------------------------------------------
    def walk(
        self, take: Callable[[], bool], should_stop: Callable[[], bool], progress_every: int = 0
    ) -> None:
        """Take steps until none is due (or the sweep is told to stop), then commit the
        last batch. A batch lost as it commits is due again: the walk goes on."""
        taken = 0
        while True:
            while not should_stop() and take():
                taken += 1
                if progress_every and taken % progress_every == 0:
                    log.info(
                        "sweep at %s: %d steps so far",
                        self.report.now.isoformat(timespec="seconds"),
                        self.report.total,
                    )
            if self.commit():
                return

    def _open(self) -> None:
        """Begin a batch unless one is open (on SQLite stepping aside first, when due)."""
        if self.batch is not None:
            return
        if self.shares_one_writer and self.held_for >= _HOLD_STEPS:
            time.sleep(_ASIDE_SECONDS)
            self.held_for = 0
        self.batch = self.conn.begin()

    def commit(self) -> bool:
        """Commit the batch, then tell what its steps did; False when the connection was
        lost (and replaced), so the batch's steps are due again."""
        batch, told = self.batch, self.batched
        self.batch, self.batched = None, []
        if batch is None:
            return True
        try:
            batch.commit()
        except Exception as err:
            if self._lost(err):
                return False
            raise
        self.reconnects = 0
        for tell in told:
            tell()
        return True

    def _lost(self, err: BaseException) -> bool:
        """Whether `err` lost the connection, and the open batch with it; if so a fresh
        connection takes its place (up to `_RECONNECTS` times between two commits)."""
        cause = err.cause if isinstance(err, _StepFailed) else err
        if not is_disconnect(cause) or self.reconnects >= _RECONNECTS:
            return False
        # The batch was rolled back with its connection: nothing of it is told, and
        # its steps are still due, so this sweep does them again.
        self.reconnects += 1
        self.batch, self.batched = None, []
        log.warning(
            "sweep: the database connection was lost (%s); carrying on with a fresh one",
            _first_line(cause),
        )
        self._reconnect(self.reconnects)
        return True

    def _make_way(self, cause: BaseException) -> bool:
        """PostgreSQL: a step found its case locked (or was picked to end a deadlock)
        while the batch holds other rows: commit the batch, so the step's retry waits
        holding nothing but its own claim. False when the batch holds nothing."""
        if not (self.on_postgres and self.batched and _lock_conflict(cause)):
            return False
        self.commit()
        return True

    def _reconnect(self, tries: int) -> None:
        """Swap the lost connection for a fresh one (on PostgreSQL the pool pings it first)."""
        engine = self.conn.engine
        try:
            self.conn.close()
        except Exception:  # it is already gone
            pass
        time.sleep(_RECONNECT_PAUSE * (tries - 1))
        self.conn = engine.connect()

    def _did(self, tell: Callable[[], None]) -> None:
        """A step done in the batch: told when the batch commits, which is now if it is full."""
        self.batched.append(tell)
        self.held_for += 1
        if len(self.batched) >= BATCH_STEPS:
            self.commit()

    # --- steps -----------------------------------------------------------------
    def one(self) -> bool:
        """Claim and do one step, in a savepoint of the batch; False when nothing due is left."""
        conflicts = 0
        while True:
            self._open()
            # Each step is stamped with the moment it is done (one moment throughout
            # a simulated sweep); a step falling due during a long sweep is done too.
            began = time.perf_counter()
            uow = UnitOfWork(connection=self.conn, programmes=self.specs, book=self.book)
            try:
                with uow:  # a savepoint: a step that fails undoes itself alone
                    self.now = uow.now
                    done = self._step(uow)
            except Exception as err:
                if self._lost(err):
                    continue
                cause = err.cause if isinstance(err, _StepFailed) else err
                if not isinstance(err, _StepFailed) or stops_everything(cause):
                    raise  # the database itself is at fault: stop, write nothing more
                if self._make_way(cause):
                    continue
                if isinstance(cause, ConflictError) and conflicts < _TRIES - 1:
                    conflicts += 1
                    continue
                self._failed(err.checkpoint_id, err.ref, cause, self.failed)
                return True
            if done is None:
                return False
            self._did(self._teller(done, self.claimed, time.perf_counter() - began))
            return True

    def _teller(self, done: StepDue | str, ref: str | None, seconds: float) -> Callable[[], None]:
        def tell() -> None:
            self._count(done)
            if isinstance(done, StepDue):
                event(
                    log,
                    "ladder.step",
                    done.step.name,
                    case=ref,
                    person="system",
                    seconds=seconds,
                    late=done.late,
                    sent=done.send,
                )

        return tell

    def review_one(self) -> bool:
        """Claim and do one annual review's step, in a savepoint of the batch; False when
        none is due. A step that fails is left for the next sweep, as a return's is."""
        conflicts = 0
        while True:
            self._open()
            uow = UnitOfWork(connection=self.conn, programmes=self.specs, book=self.book)
            row = None
            try:
                with uow:
                    self.now = uow.now
                    row = reviews.claim(self.conn, self.now, self.failed_reviews)
                    if row is None:
                        return False
                    done = reviews.do_step(uow, row)
            except Exception as err:
                if self._lost(err):
                    continue
                if stops_everything(err) or row is None:
                    raise
                if self._make_way(err):
                    continue
                if isinstance(err, ConflictError) and conflicts < _TRIES - 1:
                    conflicts += 1
                    continue
                self._failed(row.id, row.ref, err, self.failed_reviews)
                return True
            self._did(partial(self._count_review, done))
            return True

    def _failed(self, key: int, ref: str, cause: BaseException, failed: set[int]) -> None:
        """A step that failed: its savepoint is rolled back and the batch goes on without it;
        it is left for the next sweep."""
        failed.add(key)
        self.report.errors.append(f"{ref}: {cause}")
        log.error(
            "sweep: %s was not done and is left for the next sweep: %s",
            ref,
            cause,
            exc_info=cause,
        )

    def _count_review(self, done: reviews.ReviewStep) -> None:
        if done.due is None:  # a review no longer needed ends quietly
            return
        self.report.steps[done.due.step.name] += 1
        self.report.late += done.due.late
        event(
            log,
            "review.step",
            done.due.step.name,
            case=done.ref,
            person="system",
            late=done.due.late,
        )

    def _count(self, due: StepDue | str) -> None:
        if due == _ENDED:
            self.report.stopped += 1
            return
        if due == _RESCHEDULED:
            self.report.rescheduled += 1
            return
        assert isinstance(due, StepDue)
        self.report.steps[due.step.name] += 1
        self.report.late += due.late
        self.report.skipped += not due.send
        metrics.LADDER_STEPS.labels(due.step.name).inc()

    def _step(self, uow: UnitOfWork) -> StepDue | str | None:
        """The step done (a StepDue), _ENDED or _RESCHEDULED, or None when nothing is due."""
        if self.failed:
            row = self.conn.execute(
                self.claim_excluding, {"now": self.now, "failed": sorted(self.failed)}
            ).first()
            cp = None if row is None else CheckpointRecord.of(row)
        else:
            cp = self.claim.first(self.conn, {"now": self.now})
        if cp is None:
            return None
        self.claimed = cp.ref
        try:
            return self._do(uow, cp)
        except Exception as err:
            raise _StepFailed(cp.id, cp.ref, err) from err

    def _do(self, uow: UnitOfWork, cp: CheckpointRecord) -> StepDue | str:
        # A batch holding other steps' rows does not wait for a case locked elsewhere
        # (see _make_way); on SQLite the batch already has the only write lock.
        case_q = _CASE_NOWAIT if self.on_postgres and self.batched else self.case_q
        case = case_q.first(self.conn, {"case_id": cp.case_id})
        spec = uow.spec(case.programme)
        pending = pending_steps(spec.ladder, cp.due, list(cp.steps_done))
        if cp.state not in CHASED or case.state not in COLLECTING[case.kind] or not pending:
            # A finished return, or a case no longer monitored: the ladder ends here.
            _set_next(self.conn, cp, None)
            return _ENDED
        if cp.scheduled_at is not None:
            # A step that fell due before its checkpoint existed is due when it was created.
            pending = [(s, max(at, cp.scheduled_at)) for s, at in pending]
        due = plan_catch_up(pending, self.now, spec.catch_up)
        if not due:  # the programme's ladder changed since
            _set_next(self.conn, cp, pending[0][1])
            return _RESCHEDULED
        first = due[0]
        later = [at for s, at in pending if s.name != first.step.name]
        step = _Step(uow, cp, case, spec, first, later[0] if later else None)
        if holds(case, first.step):
            step.hold()
        elif first.step.action == "suspend":
            step.suspend()
        else:
            step.move()
        return first


@dataclass
class _Step:
    """One ladder step of one checkpoint, done inside the caller's unit of work."""

    uow: UnitOfWork
    cp: CheckpointRecord
    case: CaseRecord
    spec: ProgrammeSpec
    due: StepDue
    next_at: datetime | None

    @property
    def conn(self) -> Connection:
        return self.uow.conn

    @property
    def now(self) -> datetime:
        return self.uow.now

    @property
    def step(self) -> LadderStep:
        return self.due.step

    def payload(self) -> dict[str, Any]:
        """What every step's history row says: which step, when due, when done, late or not."""
        out: dict[str, Any] = {
            "step": self.step.name,
            "due_at": moment(self.due.due_at),
            "done_at": moment(self.now),
            "late": self.due.late,
        }
        if not self.due.send:
            out["message"] = "skipped"
        return out

    def move(self) -> None:
        """open, remind, mark_overdue, escalate: one checkpoint history row, maybe a message."""
        cp, step = self.cp, self.step
        # The checkpoint transition the step fires; `remind` changes no state.
        trigger, dest = step.trigger, cp.state
        if trigger is None:
            trigger = "remind"
        else:
            if (
                trigger == "escalate"
                and CHECKPOINT.machine.transition_for("escalate", cp.state) is None
            ):
                cp = self._overdue_first()
            dest = plan(
                CHECKPOINT,
                cp.ref,
                cp.state,
                trigger,
                SYSTEM,
                lead=self.case.lead,
                reason=None,
                facts=None,
                rules=RULES,
                actor_rules=ACTOR_RULES,
            ).dest
        level = step.level if step.action == "escalate" else cp.level
        payload = self.payload()
        if step.action == "escalate":
            payload["level"] = level
        if step.at_risk:
            payload["at_risk"] = True
            if not self.case.at_risk:
                _AT_RISK.rowcount(self.conn, {"case_id": self.case.id})
        if self.due.send and self.send(level) is None:
            payload["message"] = "no recipient on record"
        self._chain(
            Entry(
                checkpoint=label(cp.ref),
                from_state=cp.state,
                to_state=dest,
                trigger=trigger,
                actor=SYSTEM.name,
                role="system",
                at=self.now,
                payload=payload,
            ),
            level,
        )

    def hold(self) -> None:
        """A step the case's suspension holds: recorded as done, so it is never taken or
        sent later, with a `held` row saying why; the return's state does not move."""
        cp = self.cp
        payload = {key: value for key, value in self.payload().items() if key != "message"}
        self._chain(
            Entry(
                checkpoint=label(cp.ref),
                from_state=cp.state,
                to_state=cp.state,
                trigger="held",
                actor=SYSTEM.name,
                role="system",
                reason=HELD_REASON,
                at=self.now,
                payload=payload,
            ),
            cp.level,
        )

    def suspend(self) -> None:
        """The ladder's last step: the case's own `suspend` transition, by the system."""
        cp, case = self.cp, self.case
        reason = (
            f"the {label(cp.ref)} monitoring return, due by the end of "
            f"{cp.due.day} {cp.due:%B %Y}, has not been received"
        )
        payload = {"checkpoint": label(cp.ref), **self.payload()}
        # The ladder's own message (keyed <checkpoint>:suspended, to the step's
        # audiences) stands in for the generic notice of a suspension.
        # The whole case, documents and all: a transition's rules may read any of it.
        whole = case_service.load_case(self.conn, case.ref)
        case_service.advance(
            self.uow, whole, "suspend", SYSTEM, reason=reason, payload=payload, notify=False
        )
        self.case = case_service.load_case(self.conn, case.ref)
        self.send(cp.level, reason=reason)
        # The case's own row carries the suspension; the checkpoint only notes the step.
        self.cp = settle_checkpoint(self.conn, cp, self._step_values(cp.level))

    def send(self, level: int, reason: str | None = None) -> str | None:
        """Queue the step's message (unless skipped); its outbox key, or None."""
        if not self.due.send:
            return None
        view = replace(self.cp, level=level)
        return messages.queue(
            self.conn,
            key=f"{self.cp.ref}:{self.step.name}",
            kind=message_kind(self.step),
            case=self.case,
            spec=self.spec,
            to=self.step.to,
            cc=self.step.cc,
            now=self.now,
            reason=reason,
            checkpoint=view,
            step={"name": self.step.name, "due_at": self.due.due_at, "late": self.due.late},
            book=self.uow.book,
        )

    def _overdue_first(self) -> CheckpointRecord:
        """An escalation of a return never marked overdue (its overdue step was held while
        the case was suspended) marks it overdue first, in the same step, sending nothing."""
        cp = self.cp
        dest = plan(
            CHECKPOINT,
            cp.ref,
            cp.state,
            "mark_overdue",
            SYSTEM,
            lead=self.case.lead,
            reason=None,
            facts=None,
            rules=RULES,
            actor_rules=ACTOR_RULES,
        ).dest
        entry = Entry(
            checkpoint=label(cp.ref),
            from_state=cp.state,
            to_state=dest,
            trigger="mark_overdue",
            actor=SYSTEM.name,
            role="system",
            at=self.now,
            payload={**self.payload(), "message": "not sent: held while the case was suspended"},
        )
        self.case = change(self.conn, self.case, entry, checkpoint=cp)
        self.cp = replace(cp, state=dest, version=cp.version + 1)
        return self.cp

    def _step_values(self, level: int) -> dict[str, Any]:
        """What the checkpoint row records of a step done: its level, the step, the next time."""
        return {
            "level": level,
            "steps_done": [*self.cp.steps_done, self.step.name],
            "next_step_at": self.next_at,
        }

    def _chain(self, entry: Entry, level: int) -> None:
        """The checkpoint moves (to the entry's state) and the case's chain grows, in one go."""
        self.case = change(
            self.conn,
            self.case,
            entry,
            checkpoint=self.cp,
            checkpoint_values=self._step_values(level),
        )


# While a case is suspended its returns still open and remind, but these steps are
# held (DESIGN.md section 2): no overdue notice, escalation or second suspension.
HELD_ACTIONS = frozenset({"mark_overdue", "escalate", "suspend"})
HELD_REASON = "case suspended"


def holds(case: CaseRecord, step: LadderStep) -> bool:
    """Whether `case`'s state holds the ladder step `step` (it is recorded, not taken)."""
    return case.state in HOLDING.get(case.kind, ()) and step.action in HELD_ACTIONS


# PostgreSQL's lock_not_available (NOWAIT) and deadlock_detected.
_LOCK_CONFLICTS = frozenset({"55P03", "40P01"})


def _lock_conflict(err: BaseException) -> bool:
    """Whether `err` is PostgreSQL refusing to wait for a row lock, or ending a deadlock."""
    orig = getattr(err, "orig", None) or err
    return getattr(orig, "sqlstate", None) in _LOCK_CONFLICTS


def _first_line(err: BaseException) -> str:
    orig = getattr(err, "orig", None) or err
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]


def message_kind(step: LadderStep) -> str:
    """The outbox kind of a step: its own name when templates exist for it, else its action's."""
    if step.kind in KINDS:
        return step.kind
    if step.action == "escalate":
        return "checkpoint.escalated_2" if step.level >= 2 else "checkpoint.escalated_1"
    return ACTION_KINDS[step.action]


def _set_next(conn: Connection, cp: CheckpointRecord, at: datetime | None) -> None:
    settle_checkpoint(conn, cp, {"next_step_at": at})
