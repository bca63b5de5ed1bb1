"""Caps per condition and in total ([recruitment]), through the real engine: a full condition takes no
newcomer, a full study offers no consent (and a consent sent anyway enrols no one), pilots are never turned
away, and a freed slot (screen-out) opens again. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from study.kit import answer_for, predictions_for, write_study

from study_app.readiness import check_recruitment
from study_app.settings import Setting
from study_app.study import StudyEngine, load_study
from study_app.study.errors import StudyFileError
from study_app.study.recruitment import Recruitment, quota_full_code

CAPS = """
[recruitment]
cap_total = 3
caps = { gradcam = 1 }
quota_full_code = "FULL-7"
"""


def _engine(tmp_path, checkpoint_dir, stimuli_dir, repo, clock, tail=CAPS, design="between"):
    study = load_study(write_study(tmp_path / "studies", "verification", checkpoint=checkpoint_dir,
                                   stimuli=stimuli_dir, trials=2, checks=0, design=design, tail=tail))
    return StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)


def _consent(engine, *, pilot=False):
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    return token, engine.submit(token, step.step_id, answer_for(step), pilot=pilot)


def test_a_full_condition_takes_no_newcomer_and_a_full_study_offers_no_consent(tmp_path, checkpoint_dir,
                                                                                  stimuli_dir, repo, clock):
    engine = _engine(tmp_path, checkpoint_dir, stimuli_dir, repo, clock)
    assert engine.conditions == ("gradcam", "integrated_gradients")
    labels = []
    for _ in range(3):
        token, step = _consent(engine)
        assert step.kind != "consent"
        labels.append(engine.conditions[repo.participant_by_token(token).condition])
    assert labels == ["gradcam", "integrated_gradients", "integrated_gradients"]  # gradcam's cap is 1
    assert engine.condition_counts() == {"gradcam": 1, "integrated_gradients": 2}
    newcomer = engine.start_or_resume(None)
    step = engine.current_step(newcomer)
    assert step.kind == "consent" and step.full  # the page shows the polite refusal, no consent form
    refused = engine.submit(newcomer, "consent", {"agree": True})
    assert refused.kind == "consent" and refused.full
    assert repo.participant_by_token(newcomer) is None and len(repo.participants(engine.record.id)) == 3
    pilot, step = _consent(engine, pilot=True)  # the researcher's pilot is never turned away
    assert step.kind != "consent" and repo.participant_by_token(pilot).pilot
    first = next(p for p in repo.participants(engine.record.id) if p.condition == 0)
    repo.screen_out(first.id, study_id=engine.record.id, now=clock(), reason={"rule": "test"})
    assert not engine.current_step(newcomer).full  # the screened-out slot is free again
    step = engine.submit(newcomer, "consent", answer_for(engine.current_step(newcomer)))
    assert step.kind != "consent" and repo.participant_by_token(newcomer).condition == 0


def test_an_abandoned_slot_frees_after_the_inactive_timeout(tmp_path, checkpoint_dir, stimuli_dir, repo, clock):
    engine = _engine(tmp_path, checkpoint_dir, stimuli_dir, repo, clock,
                     tail="\n[recruitment]\ncap_total = 1\n")
    _consent(engine)
    assert engine.current_step(engine.start_or_resume(None)).full
    clock.advance(minutes=31)  # inactive_timeout_minutes = 30: the balance stops counting them
    assert not engine.current_step(engine.start_or_resume(None)).full


def test_caps_name_conditions_and_rules_are_checked(tmp_path, checkpoint_dir, stimuli_dir):
    def load(tail, design="between"):
        return load_study(write_study(tmp_path / "s", "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                                      trials=2, checks=0, design=design, tail=tail))

    with pytest.raises(StudyFileError, match=r"recruitment\.caps\.gradcm.*not a condition"):
        load("\n[recruitment]\ncaps = { gradcm = 3 }\n")
    assert load("\n[recruitment]\ncaps = { latin-0 = 3 }\n", design="within").recruitment.cap_of("latin-0") == 3
    with pytest.raises(StudyFileError, match=r"recruitment\.reject_message.*100 characters"):
        load('\n[recruitment]\nunmatched = "reject"\nreject_message = "no"\n')
    with pytest.raises(StudyFileError, match=r"recruitment\.cap_totl.*did you mean 'cap_total'"):
        load("\n[recruitment]\ncap_totl = 3\n")
    with pytest.raises(StudyFileError, match=r"recruitment\.screened_out.*approve, return, reject, leave"):
        load('\n[recruitment]\nscreened_out = "ban"\n')
    study = load("")
    assert study.recruitment == Recruitment() and not study.recruitment.capped


def test_the_full_code_falls_back_to_the_screened_out_code():
    from types import SimpleNamespace

    assert quota_full_code(SimpleNamespace(recruitment=Recruitment(quota_full_code="F"), screened_out_code="S")) == "F"
    assert quota_full_code(SimpleNamespace(recruitment=Recruitment(), screened_out_code="S")) == "S"
    assert quota_full_code(SimpleNamespace(recruitment=Recruitment(), screened_out_code=None)) is None


def test_the_progress_table_shows_counts_against_caps():
    from study_app.study.recruitment import quota_rows

    rules = Recruitment(cap_total=5, caps=(("a", 2),))
    rows = quota_rows(rules, {"a": 2, "b": 1})
    assert rows == [{"condition": "a", "counted": 2, "cap": 2, "open": False},
                    {"condition": "b", "counted": 1, "cap": None, "open": True},
                    {"condition": "all", "counted": 3, "cap": 5, "open": True}]
    assert [r["open"] for r in quota_rows(rules, {"a": 1, "b": 4})] == [False, False, False]  # total reached


def test_newcomers_racing_for_the_last_place_get_it_once(tmp_path, checkpoint_dir, stimuli_dir, repo, clock):
    import threading

    engine = _engine(tmp_path, checkpoint_dir, stimuli_dir, repo, clock, tail="\n[recruitment]\ncap_total = 1\n")
    tokens = [engine.start_or_resume(None) for _ in range(6)]
    consent = answer_for(engine.current_step(tokens[0]))
    barrier, steps = threading.Barrier(len(tokens)), {}

    def agree(token):
        barrier.wait()
        steps[token] = engine.submit(token, "consent", consent)

    threads = [threading.Thread(target=agree, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(repo.participants(engine.record.id)) == 1
    assert sorted(s.kind == "consent" and s.full for s in steps.values()) == [False] + [True] * 5


def test_check_says_what_recruitment_sets_and_whether_the_prolific_command_has_a_token(tmp_path, checkpoint_dir,
                                                                                     stimuli_dir):
    tail = CAPS + 'prolific_study_id = "65f0c0ffee0123456789abcd"\n'
    study = load_study(write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                                   design="between", tail=tail))
    missing = check_recruitment(study, Setting.secret("Prolific API token", None, "nowhere"))
    assert not missing.ok and not missing.blocking and "XAI_STUDY_PROLIFIC_TOKEN" in missing.detail
    assert "caps: at most" in missing.detail and "Prolific study 65f0c0ffee0123456789abcd" in missing.detail
    present = check_recruitment(study, Setting.secret("Prolific API token", "tok-SECRET-123", "environment"))
    assert present.ok and "set (from environment)" in present.detail and "SECRET" not in present.detail
