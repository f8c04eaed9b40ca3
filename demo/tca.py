"""The Transformation Challenge Award round of 2013, played through the services.

April: councils' bids are entered and submitted (three break a rule and are
refused at submit, with every reason). May: checks, due diligence, two
assessors per bid (one declares a conflict before scoring, another only after
scoring, so their score is set aside), a clarification, a withdrawal.
June: moderation (one pair of scores too far apart needs an agreed score),
the ranking, recommendations and rejections, and offers down the ranking
until the £9m fund is spent (the fifth single-operation offer and the first
offer past the fund are refused). Summer: councils accept or decline; the
declined funds are offered again down the ranking. The round closes at the
end of September.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Callable

from states.money import parse_money, pounds
from workflow.services import applications, assessment, lifecycle
from workflow.services import ranking as ranking_service
from demo import diligence as due_diligence
from demo import plans as p
from demo.agenda import working_days_after
from demo.cast import Cast
from demo.controls import Countersigning
from demo.plans import BidPlan
from demo.story import Story

CODE = "tca-2013"
OPENING_FROM = date(2013, 4, 2)
OPENING_UNTIL = date(2013, 4, 24)
CHECK_DAY = date(2013, 5, 7)  # the first working day after the early May bank holiday
ASSESSMENT_DAY = date(2013, 5, 8)
MODERATION_DAY = date(2013, 6, 10)
RANKING_DAY = date(2013, 6, 17)
OFFER_DAY = date(2013, 6, 19)
REOFFER_DAY = date(2013, 7, 15)
ROUND_CLOSES = date(2013, 9, 30)
QUALITY_THRESHOLD = Decimal("7.5")  # a combined score below this is not funded
RESERVE_LIST = 4  # good bids kept below the funding line, in case of declines


class TcaRound:
    def __init__(
        self, story: Story, cast: Cast, bids: list[BidPlan], on_accepted: Callable[[str], None]
    ):
        self.story, self.cast, self.bids = story, cast, bids
        self.countersigning = Countersigning(story, cast)
        self.on_accepted = on_accepted
        self.plan_of: dict[str, BidPlan] = {}
        self.decliners: set[str] = set()
        self._offered_by_category: dict[str, int] = {}

    # --- April: bids in -----------------------------------------------------------
    def book(self) -> None:
        s = self.story
        span = _working_days_between(OPENING_FROM, OPENING_UNTIL)
        for i, bid in enumerate(self.bids):
            day = working_days_after(OPENING_FROM, (i * span) // max(1, len(self.bids)))
            s.on(day, s.office_hours(), lambda bid=bid: self._open(bid))
        s.on(CHECK_DAY, "10:00", self._check_all)
        s.on(ASSESSMENT_DAY, "09:30", self._start_assessments)
        s.on(MODERATION_DAY, "10:00", self._moderate_all)
        s.on(RANKING_DAY, "11:00", self._recommend_or_reject)
        s.on(OFFER_DAY, "10:00", lambda: self._offer_down_the_ranking(first_round=True))
        s.on(REOFFER_DAY, "10:00", lambda: self._offer_down_the_ranking(first_round=False))
        s.on(ROUND_CLOSES, "17:00", self._close_round)

    def _open(self, bid: BidPlan, amount: int | None = None) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        s.chapter("TCA: bids arriving")
        opened = s.act(
            worker,
            f"open a {bid.category.replace('_', ' ')} bid for {bid.lead.short}",
            None,
            lambda: lifecycle.open_case(s.engine, "bid", bid.document(amount), worker),
        )
        ref = opened["ref"]
        self.plan_of[ref] = bid if amount is None else replace(bid, amount=amount, twist=None)
        wait = 1 + s.rng.randrange(3)
        if bid.twist == p.INELIGIBLE:  # sent after the council's first: the duplicate is this
            wait += 3
        day = working_days_after(s.today(), wait)
        s.on(day, s.office_hours(), lambda: self._submit(ref))

    def _submit(self, ref: str) -> None:
        s, bid = self.story, self.plan_of[ref]
        council = self.cast.contact(bid.lead.code)
        submit = lambda: lifecycle.advance(s.engine, ref, "submit", council)  # noqa: E731
        if bid.twist not in (p.OVER_BAND, p.UNDER_BAND, p.ESG_OVER):
            s.act(council, "submit the bid", ref, submit)
            return
        s.refused(council, "submit a bid that breaks its category's rules", ref, submit)
        later = working_days_after(s.today(), 3)
        if bid.corrected_amount is not None:
            s.on(later, "10:00", lambda: self._open(bid, bid.corrected_amount))
            why = "refused at submission; sent again within the rules"
        else:
            why = "refused at submission; the council will not bid this round"
        s.on(
            later,
            "10:30",
            lambda: s.act(
                council,
                "withdraw the refused draft",
                ref,
                lambda: lifecycle.advance(s.engine, ref, "withdraw", council, reason=why),
            ),
        )

    # --- May: checks and assessment ----------------------------------------------
    def _bids_in(self, state: str) -> list[str]:
        return [
            c["ref"]
            for c in lifecycle.list_cases(
                self.story.engine, kind="bid", state=state, programme=CODE
            )
        ]

    def _check_all(self) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        s.chapter("TCA: eligibility checks")
        for ref in self._bids_in("submitted"):
            failed = due_diligence.review(s, worker, ref, self.plan_of[ref])
            if failed is not None:
                due_diligence.declare_ineligible(s, worker, ref, failed)
            else:
                s.act(
                    worker,
                    "check the bid's eligibility",
                    ref,
                    lambda ref=ref: lifecycle.advance(s.engine, ref, "check", worker),
                )

    def _start_assessments(self) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        s.chapter("TCA: assessment")
        assessors = self.cast.assessors
        for n, ref in enumerate(self._bids_in("eligible")):
            s.act(
                worker,
                "start the assessment",
                ref,
                lambda ref=ref: lifecycle.advance(s.engine, ref, "start_assessment", worker),
            )
            pair = (assessors[n % len(assessors)], assessors[(n + 1) % len(assessors)])
            stand_in = assessors[(n + 2) % len(assessors)]
            self._book_assessment(ref, pair, stand_in)

    def _book_assessment(self, ref: str, pair: tuple[str, str], stand_in: str) -> None:
        s, bid = self.story, self.plan_of[ref]
        start = s.today()
        if bid.twist == p.CLARIFY:
            s.on(working_days_after(start, 1), "11:00", lambda: self._ask(ref, pair[0]))
            start = working_days_after(start, 5)
        if bid.twist == p.WITHDRAW:
            s.on(working_days_after(start, 6), "15:00", lambda: self._withdraw(ref))
            return
        first, second = pair
        scores = self._scores(bid)
        if bid.twist == p.CONFLICT:
            conflicted, first = first, stand_in
            s.on(
                working_days_after(start, 2),
                "10:00",
                lambda: s.act(
                    conflicted,
                    "declare a conflict of interest",
                    ref,
                    lambda: assessment.declare(
                        s.engine,
                        ref,
                        conflicted,
                        conflict=True,
                        reason="I was head of finance at the lead council until 2012.",
                    ),
                ),
            )
        if bid.twist == p.LATE_CONFLICT:
            late, first = first, stand_in
            s.on(working_days_after(start, 1), "09:30", lambda: self._assess(ref, late, scores[0]))
            s.on(
                working_days_after(start, 4),
                "16:00",
                lambda: s.act(
                    late,
                    "declare a conflict of interest found after scoring",
                    ref,
                    lambda: assessment.declare(
                        s.engine,
                        ref,
                        late,
                        conflict=True,
                        reason="Learned this week that my brother-in-law "
                        "chairs the partner council's audit committee.",
                    ),
                ),
            )
        for person, given in ((first, scores[0]), (second, scores[1])):
            day = working_days_after(start, 2 + s.rng.randrange(12))
            s.on(
                day,
                s.office_hours(),
                lambda person=person, given=given: self._assess(ref, person, given),
            )

    def _ask(self, ref: str, assessor_name: str) -> None:
        s = self.story
        council = self.cast.contact(self.plan_of[ref].lead.code)
        s.act(
            assessor_name,
            "ask the council a clarification question",
            ref,
            lambda: lifecycle.advance(
                s.engine,
                ref,
                "ask_clarification",
                assessor_name,
                reason="How will the savings be shared between partners?",
            ),
        )
        s.on(
            working_days_after(s.today(), 3),
            "11:00",
            lambda: s.act(
                council,
                "amend the bid to say how savings are shared",
                ref,
                lambda: applications.amend(
                    s.engine,
                    ref,
                    self._shared_savings(ref),
                    council,
                    reason="Answering the question on shared savings.",
                ),
            ),
        )
        s.on(
            working_days_after(s.today(), 3),
            "14:00",
            lambda: s.act(
                council,
                "answer the clarification question",
                ref,
                lambda: lifecycle.advance(
                    s.engine,
                    ref,
                    "answer",
                    council,
                    reason="In proportion to each council's spend, "
                    "reviewed yearly by the joint committee; "
                    "the bid now says so.",
                ),
            ),
        )

    def _shared_savings(self, ref: str) -> dict:
        """The bid's document with a paragraph on how the savings are shared."""
        document = dict(lifecycle.show(self.story.engine, ref)["application"])
        document["innovation"] = (
            (document.get("innovation") or "").rstrip()
            + "\n\nSavings are shared in proportion to each council's "
            "spend, reviewed yearly by the joint committee."
        ).lstrip()
        return document

    def _withdraw(self, ref: str) -> None:
        s = self.story
        council = self.cast.contact(self.plan_of[ref].lead.code)
        s.act(
            council,
            "withdraw the bid during assessment",
            ref,
            lambda: lifecycle.advance(
                s.engine,
                ref,
                "withdraw",
                council,
                reason="A partner council has left the arrangement.",
            ),
        )

    def _assess(self, ref: str, person: str, given: tuple[int, int, int]) -> None:
        s = self.story
        s.act(
            person,
            "declare no conflict of interest",
            ref,
            lambda: assessment.declare(s.engine, ref, person, conflict=False),
        )
        innovation, costs, savings = given
        s.act(
            person,
            f"score the bid {innovation}/{costs}/{savings}",
            ref,
            lambda: assessment.score(
                s.engine,
                ref,
                person,
                innovation=innovation,
                costs=costs,
                savings=savings,
                comment="Scored against the published criteria.",
            ),
        )

    def _scores(self, bid: BidPlan) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
        """Two assessors' scores that follow the bid's quality and agree within tolerance."""
        rng = self.story.rng
        if bid.twist == p.DISAGREE:
            return (5, 5, 4), (2, 3, 2)
        first = tuple(max(0, min(5, round(bid.quality + rng.uniform(-0.5, 0.5)))) for _ in range(3))
        second = list(first)
        which = rng.randrange(3)
        second[which] = max(0, min(5, second[which] + rng.choice((-1, 0, 1))))
        return first, tuple(second)  # type: ignore[return-value]

    # --- June: moderation, ranking, offers -----------------------------------------
    def _moderate_all(self) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        s.chapter("TCA: moderation")
        for ref in self._bids_in("under_assessment"):
            if self.plan_of[ref].twist == p.DISAGREE:
                s.refused(
                    worker,
                    "moderate a bid whose two scores are far apart",
                    ref,
                    lambda ref=ref: lifecycle.advance(s.engine, ref, "moderate", worker),
                )
                s.on(s.today(), "11:00", lambda ref=ref: self._agree(ref))
                continue
            s.act(
                worker,
                "moderate the bid",
                ref,
                lambda ref=ref: lifecycle.advance(s.engine, ref, "moderate", worker),
            )

    def _agree(self, ref: str) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        s.act(
            worker,
            "record a moderator's agreed score 4/4/3",
            ref,
            lambda: assessment.agree_score(
                s.engine,
                ref,
                worker,
                innovation=4,
                costs=4,
                savings=3,
                reason="Moderation panel: strong innovation, savings case only partly evidenced.",
            ),
        )
        s.act(
            worker,
            "moderate the bid",
            ref,
            lambda: lifecycle.advance(s.engine, ref, "moderate", worker),
        )

    def _recommend_or_reject(self) -> None:
        """The panel's funding line: good bids that fit, and a short reserve list below it."""
        s, worker = self.story, self.cast.bid_caseworker
        s.chapter("TCA: ranking")
        reserve = 0
        for row in ranking_service.ranking(s.engine, CODE):
            if row["state"] != "moderated":
                continue
            ref, score = row["ref"], Decimal(str(row["score"]))
            why = None
            if score < QUALITY_THRESHOLD:
                why = f"Scored {row['score']} of 15, below the threshold of {QUALITY_THRESHOLD}."
            elif not row["fits"]:
                reserve += 1
                if reserve > RESERVE_LIST:
                    why = (
                        f"Scored {row['score']} of 15 but ranked below the funding line: "
                        f"{row['why'][0]}."
                    )
            if why:
                s.act(
                    worker,
                    "reject the bid",
                    ref,
                    lambda ref=ref, why=why: lifecycle.advance(
                        s.engine, ref, "reject", worker, reason=why
                    ),
                )
            else:
                s.act(
                    worker,
                    f"recommend the bid (score {row['score']})",
                    ref,
                    lambda ref=ref: lifecycle.advance(s.engine, ref, "recommend", worker),
                )

    def _offer_down_the_ranking(self, *, first_round: bool) -> None:
        """The approver offers in ranking order; beyond the fund or a count, the rules say no."""
        s, approver = self.story, self.cast.award_approver
        s.chapter("TCA: offers")
        shown: set[str] = set()
        for row in ranking_service.ranking(s.engine, CODE):
            if row["state"] != "recommended":
                continue
            ref = row["ref"]
            offer = lambda ref=ref: lifecycle.advance(s.engine, ref, "offer", approver)  # noqa: E731
            if row["fits"]:
                # Above the threshold (or rated high risk) it is countersigned first.
                who = self.countersigning.before_offer(
                    ref, approver, parse_money(row["amount"], "amount")
                )
                s.act(
                    who,
                    f"offer {_pounds(row['amount'])}",
                    ref,
                    lambda ref=ref, who=who: lifecycle.advance(s.engine, ref, "offer", who),
                )
                self._after_offer(ref, row["category"], first_round)
            elif first_round and row["stops"] not in shown:
                # Try one of each kind the ranking warns about, to show the refusal.
                shown.add(row["stops"])
                s.refused(
                    approver, f"offer {_pounds(row['amount'])} below the funding line", ref, offer
                )

    def _after_offer(self, ref: str, category: str, first_round: bool) -> None:
        s = self.story
        made = self._offered_by_category.get(category, 0) + 1
        self._offered_by_category[category] = made
        # The second offer of the first round in each of these categories is declined,
        # so its funds go back to the fund and are offered again.
        if first_round and made == 2 and category in ("single_operation", "shared_arrangement"):
            self.decliners.add(ref)
        day = working_days_after(s.today(), 3 + s.rng.randrange(10))
        s.on(day, s.office_hours(), lambda: self._respond(ref))

    def _respond(self, ref: str) -> None:
        s = self.story
        council = self.cast.contact(self.plan_of[ref].lead.code)
        if ref in self.decliners:
            why = (
                "Our partner council's cabinet voted against the merger."
                if self.plan_of[ref].category == "single_operation"
                else "The partner councils could not agree who leads the work."
            )
            s.act(
                council,
                "decline the award",
                ref,
                lambda: lifecycle.advance(s.engine, ref, "decline", council, reason=why),
            )
            return
        s.act(
            council,
            "accept the award",
            ref,
            lambda: lifecycle.advance(s.engine, ref, "accept", council),
        )
        self.on_accepted(ref)

    def _close_round(self) -> None:
        s, worker = self.story, self.cast.bid_caseworker
        for ref in self._bids_in("recommended"):
            s.act(
                worker,
                "close the bid as unfunded",
                ref,
                lambda ref=ref: lifecycle.advance(
                    s.engine,
                    ref,
                    "withdraw",
                    worker,
                    reason="The round closed on 30 September 2013 with the fund committed.",
                ),
            )


def _pounds(amount: str) -> str:
    return pounds(parse_money(amount, "amount"))


def _working_days_between(start: date, end: date) -> int:
    n, day = 0, start
    while day < end:
        day = working_days_after(day, 1)
        n += 1
    return n
