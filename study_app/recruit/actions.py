"""The five Prolific actions (status, approve, reject, bonus, sync) for the command line and the Researcher area.

Each action reads the study's submissions from Prolific, matches them with what the database holds
(:mod:`study_app.recruit.reconcile`) and, only when confirmed, acts: a dry run (the default) says what would
be sent and sends nothing. Every action, dry or not, failed or not, is written to the researcher audit log
under ``prolific_<action>``, naming our pseudonyms and counts (never a Prolific id, never the token).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

from study_app.recruit.prolific_api import ProlificClient, ProlificError
from study_app.recruit.reconcile import (
    Holdings,
    Submission,
    bonuses,
    correct_final_answers,
    reconcile,
    to_approve,
    to_settle,
    to_sync,
)
from study_app.store.repository import Repository
from study_app.study.id_key import IdKey
from study_app.study.schema import Study

ACTIONS = ("status", "approve", "reject", "bonus", "sync")
CHANGES = ("approve", "reject", "bonus", "sync")  # dry run unless confirmed
AUDIT_PREFIX = "prolific_"


class RecruitError(RuntimeError):
    """The study cannot be settled on Prolific as asked; the message says why, in one line."""


@dataclass
class Report:
    """What an action found and did: ``lines`` to show, ``done`` (sent or written), ``dry_run``."""

    action: str
    lines: list[str] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    done: int = 0
    planned: int = 0
    dry_run: bool = False

    def say(self, line: str) -> None:
        self.lines.append(line)


def load_holdings(repository: Repository, study: Study, key: IdKey | None) -> Holdings:
    """What the database holds for every stored version of ``study``."""
    versions = repository.studies(study.id)
    participants = {v.id: repository.participants(v.id) for v in versions}
    withdrawn = [e.detail["submission_sha256"] for v in versions for e in repository.events(v.id, "withdrawal")
                 if isinstance(e.detail, dict) and e.detail.get("submission_sha256")]
    correct = {}
    for v in versions:
        correct.update(correct_final_answers(repository.responses(v.id)))
    return Holdings(versions, participants, key, withdrawn, correct)


def bonus_already_paid(repository: Repository, slug: str) -> set[str]:
    """Pseudonyms of participants a bonus was paid to before (the audit log's ``prolific_bonus`` entries)."""
    return {pid for e in repository.audit_log() if e.action == f"{AUDIT_PREFIX}bonus" and e.outcome == "ok"
            and e.study_slug == slug for pid in (e.detail.get("participants") or {})}


class ProlificActions:
    """One study's actions on Prolific.

    Args:
        study: The parsed study file (``[recruitment] prolific_study_id`` names the Prolific study).
        repository: The study's database.
        client: Prolific's API.
        key: The external-id key (:func:`study_app.study.id_key.key_from_text` of the settings' value).
        actor: Who acts, for the audit log (``cli (user)`` or ``web``).
        clock: The time of audit entries and status changes.
    """

    def __init__(self, study: Study, repository: Repository, client: ProlificClient, key: IdKey | None, *,
                 actor: str, clock=lambda: dt.datetime.now(dt.UTC)):
        if not study.recruitment.prolific_study_id:
            raise RecruitError(f"{study.source or study.id}: set recruitment.prolific_study_id to the Prolific "
                               "study's id (its %STUDY_ID%)")
        self.study, self.repository, self.client, self.key = study, repository, client, key
        self.actor, self.clock = actor, clock

    @property
    def prolific_study_id(self) -> str:
        return self.study.recruitment.prolific_study_id

    def submissions(self) -> list[Submission]:
        raw = list(self.client.submissions(self.prolific_study_id))
        return reconcile(self.study, load_holdings(self.repository, self.study, self.key), raw)

    def run(self, action: str, *, confirm: bool = False) -> Report:
        """Run ``action``; a change happens only with ``confirm`` (otherwise: a dry run).

        Raises:
            ProlificError: Prolific refused or failed (what was done before is in the audit log).
            RecruitError: the study names no Prolific study.
        """
        if action not in ACTIONS:
            raise RecruitError(f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        report = Report(action, dry_run=action in CHANGES and not confirm)
        detail: dict = {"prolific_study": self.prolific_study_id, "dry_run": report.dry_run}
        try:
            report.submissions = self.submissions()
            if not report.dry_run:  # what Prolific lists now, for the export (a dry run writes nothing)
                self._record({s.participant.id: s.status for s in report.submissions if s.participant})
            getattr(self, f"_{action}")(report, detail)
        except ProlificError as exc:
            self._audit(action, "failed", {**detail, "done": report.done, "error": str(exc)})
            raise
        self._audit(action, "dry_run" if report.dry_run else "ok", {**detail, "done": report.done,
                                                                    "planned": report.planned})
        if report.dry_run and report.planned:
            report.say(f"dry run: nothing was sent; confirm (--yes) to {action} {report.planned}")
        return report

    def _record(self, statuses: dict[int, str], bonus_minor: dict[int, int] | None = None) -> None:
        self.repository.record_submissions(statuses, self.clock(), bonus_minor=bonus_minor)

    def _audit(self, action: str, outcome: str, detail: dict) -> None:
        self.repository.log_researcher_action(f"{AUDIT_PREFIX}{action}", outcome, self.clock(), actor=self.actor,
                                              study_slug=self.study.id, detail=detail)

    # ---- the actions -------------------------------------------------------------------------------------

    def _status(self, report: Report, detail: dict) -> None:
        counts = Counter(s.outcome for s in report.submissions)
        detail["outcomes"] = dict(sorted(counts.items()))
        report.say(f"{len(report.submissions)} submissions on Prolific study {self.prolific_study_id}")
        for s in report.submissions:
            correct = "" if s.correct_final is None else f"  correct final answers: {s.correct_final}"
            report.say(f"  {s.submission_id}  {s.status:<16} {s.outcome:<13} {s.public_id or '-'}{correct}")
        report.say("outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"))

    def _approve(self, report: Report, detail: dict) -> None:
        chosen = to_approve(report.submissions, self.study)
        report.planned = len(chosen)
        detail["participants"] = sorted(s.public_id or f"({s.outcome})" for s in chosen)
        report.say(f"approve: {len(chosen)} submissions awaiting review ("
                   + (", ".join(f"{k} {v}" for k, v in sorted(Counter(s.outcome for s in chosen).items())) or "none")
                   + ")")
        if chosen and not report.dry_run:
            report.done = self.client.bulk_approve([s.submission_id for s in chosen])
            self._record({s.participant.id: "APPROVED" for s in chosen if s.participant})
            report.say(f"sent {report.done} approvals (Prolific approves them asynchronously)")

    def _reject(self, report: Report, detail: dict) -> None:
        rules = self.study.recruitment
        rejects = to_settle(report.submissions, self.study, "reject")
        returns = to_settle(report.submissions, self.study, "return")
        report.planned = len(rejects) + len(returns)
        detail["rejected"] = sorted(s.public_id or f"({s.outcome})" for s in rejects)
        detail["asked_to_return"] = sorted(s.public_id or f"({s.outcome})" for s in returns)
        report.say(f"reject: {len(rejects)} ({rules.reject_category}); ask to return: {len(returns)} "
                   f"(rules: screened_out={rules.screened_out}, no_consent={rules.no_consent}, "
                   f"unmatched={rules.unmatched})")
        for s in rejects + returns:
            report.say(f"  {s.submission_id}  {s.outcome:<13} -> {'reject' if s in rejects else 'return'}")
        if report.dry_run:
            return
        for s in rejects:
            answer = self.client.reject(s.submission_id, rules.reject_message or "", rules.reject_category)
            report.done += 1
            if s.participant:
                self._record({s.participant.id: (answer or {}).get("status") or "REJECTED"})
        for s in returns:
            self.client.request_return(s.submission_id, [rules.return_reason])
            report.done += 1
        report.say(f"sent {len(rejects)} rejections and {len(returns)} return requests")

    def _bonus(self, report: Report, detail: dict) -> None:
        rules = self.study.recruitment
        if rules.bonus_per_correct is None:
            raise RecruitError("the study file sets no bonus rule (recruitment.bonus_per_correct)")
        paid = bonus_already_paid(self.repository, self.study.id)
        amounts = bonuses(report.submissions, self.study, paid)
        by_pid = {s.prolific_pid: s for s in report.submissions}
        detail["participants"] = {by_pid[pid].public_id: amount for pid, amount in sorted(amounts.items())}
        detail["total"] = round(sum(amounts.values()), 2)
        report.planned = len(amounts)
        report.say(f"bonus: {len(amounts)} participants, {detail['total']:.2f} in the study's currency in all "
                   f"({rules.bonus_per_correct:.2f} per correct final answer"
                   + (f", at most {rules.bonus_max:.2f}" if rules.bonus_max is not None else "")
                   + f"; {len(paid)} paid before are left out)")
        for pid, amount in sorted(amounts.items()):
            s = by_pid[pid]
            report.say(f"  {s.public_id}  {s.correct_final} correct -> {amount:.2f}")
        if not amounts or report.dry_run:
            return
        bulk = self.client.set_up_bonuses(self.prolific_study_id, amounts)
        detail["bulk_bonus_payment"] = bulk.get("id")
        self.client.pay_bonuses(str(bulk["id"]))
        report.done = len(amounts)
        self._record({}, {by_pid[pid].participant.id: round(amount * 100) for pid, amount in amounts.items()})
        total = bulk.get("total_amount")
        report.say(f"paid: bulk bonus payment {bulk['id']}"
                   + (f" (Prolific's total with fees: {float(total) / 100:.2f})" if isinstance(total, int | float) else ""))

    def _sync(self, report: Report, detail: dict) -> None:
        changes = to_sync(report.submissions)
        report.planned = len(changes)
        detail["participants"] = {s.public_id: status for s, status in changes}
        report.say(f"sync: {len(changes)} of our active participants returned or timed out on Prolific "
                   "(their condition slots are freed)")
        for s, status in changes:
            report.say(f"  {s.public_id}  Prolific {s.status} -> {status}")
        if report.dry_run:
            return
        now = self.clock()
        for s, status in changes:
            if self.repository.end_by_recruiter(s.participant.id, status, study_id=s.participant.study_id, now=now,
                                                detail={"prolific_status": s.status}):
                report.done += 1
        report.say(f"marked {report.done} participants")
