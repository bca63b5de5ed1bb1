"""``xai-study prereg``: the document names what the study does (arms, measures, exclusion rules, hashes), the HTML
escapes the study's own texts, the lock reports a match and then a deviation, and missing power input is said."""

from __future__ import annotations

import hashlib
import json
import random

import pytest
from study.kit import run_participant, write_study

from study_app.analysis.prereg_cli import write_prereg
from study_app.analysis.prereg_lock import deviation, find_lock
from study_app.analysis.reliance_arms import measure_definitions
from study_app.cli import main
from study_app.readiness import check_preregistration
from study_app.store import Repository, make_engine
from study_app.study import load_study
from study_app.study.instruments import get_instrument

RULES = "screen_out_after = 2\nmin_trial_seconds = 1.5\ncomprehension_retries = 1\n"
COMPREHENSION = """
[[comprehension]]
id = "maps"
text = "What do the highlighted regions show?"
options = ["What the model relied on", "Where the animal is"]
correct = "What the model relied on"
"""
SUS = '\n[[post_questionnaire]]\ninstrument = "sus"\n'


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _study(tmp_path, checkpoint_dir, stimuli_dir, protocol, *, rules=RULES, tail=COMPREHENSION, title=None, **kw):
    path = write_study(tmp_path / "study", protocol, checkpoint=checkpoint_dir, stimuli=stimuli_dir, tail=tail, **kw)
    text = path.read_text(encoding="utf-8").replace("inactive_timeout_minutes = 30\n",
                                                    "inactive_timeout_minutes = 30\n" + rules)
    if title is not None:
        text = text.replace(f'title = "Test study: {protocol}"', f"title = {json.dumps(title)}")
    path.write_text(text, encoding="utf-8")
    return path


def _written(study, out, **kw):
    paths = write_prereg(study, out, sims=40, **kw)
    return paths, paths["md"].read_text(encoding="utf-8"), paths["html"].read_text(encoding="utf-8")


def _names_measures_and_hashes(paths, md: str, study) -> None:
    for row in measure_definitions().itertuples():  # the export's definitions, every one, as the page shows them
        assert f"| {row.measure} | {row.meaning} | {row.formula} | {row.source} |" in md
    for script in ("analysis.R", "analysis.py"):
        assert _sha(paths[script]) in md
        assert json.loads(paths["json"].read_text())["scripts"][script] == _sha(paths[script])
    assert _sha(study) in md
    assert json.loads(paths["json"].read_text())["study_sha256"] == _sha(study)


def test_decision_study_document(tmp_path, checkpoint_dir, stimuli_dir):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "decision", design="between", trials=4)
    paths, md, _ = _written(study, tmp_path / "out")
    assert "| pets | decision | human, ai, gradcam, placebo |" in md
    assert "Conditions (4): human, ai, gradcam, placebo." in md  # between: one condition per arm
    assert "AI-wrong share: 0.5 (2 of 4 trials per participant" in md
    assert "minimum AI confidence of an eligible stimulus: 0" in md
    assert "placebo: gradcam maps from source randomized_model" in md
    assert "reliance kind: answer_with_advice" in md
    _names_measures_and_hashes(paths, md, study)
    # the exclusion rules as the code applies them: screen-out ends, the rest are flags only
    assert "the study ends for a participant at their 2. failed check" in md
    assert "up to 1 time(s) before the answers count" in md
    assert "answers faster than 1.5 s (min_trial_seconds) are flagged too_fast" in md
    assert "failed attention checks (1 per participant in all): flagged" in md
    assert md.index("Flags only") < md.index("flagged too_fast")
    assert "## 8. Hypotheses" in md and md.count("[to be filled by the researcher]") >= 2
    assert "ai_wrong_share 0.5" in md  # the power's stated design
    assert "xai-study power --study" in md and "--effect acc:0.70,0.80" in md


def test_verification_study_document_with_instrument(tmp_path, checkpoint_dir, stimuli_dir):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", control=True, rules="", tail=SUS)
    paths, md, _ = _written(study, tmp_path / "out", effect="acc:0.6,0.75")
    assert "| pets | verification | gradcam, integrated_gradients, none |" in md
    assert "Conditions (3): latin-0, latin-1, latin-2." in md
    assert "Maps are drawn in the colour scheme 'gnbu'" in md  # it changes what participants see
    assert "Is the model's prediction correct?" in md
    assert "balanced half and half by the model's correctness" in md
    _names_measures_and_hashes(paths, md, study)
    assert "screen-out: not set" in md and "no min_trial_seconds set, nothing flagged" in md
    assert get_instrument("sus").citation in md and "reverse-coded: 2, 4, 6, 8, 10" in md
    assert "Planned sample: N = " in md or "not reached" in md
    assert "default assumption" not in md  # the researcher's own effect


def test_html_escapes_a_hostile_title(tmp_path, checkpoint_dir, stimuli_dir):
    title = '<script>alert("x")</script> & <b>bold</b>'
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="", title=title)
    _, md, page = _written(study, tmp_path / "out", power=False)
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page
    assert f"# Pre-registration: {title}" in md


def test_check_reports_match_then_deviation(tmp_path, checkpoint_dir, stimuli_dir):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="")
    before = check_preregistration(study)
    assert before.ok and not before.blocking and "no prereg.json" in before.detail
    paths = write_prereg(study, power=False)  # default: prereg/ beside the study file, where check looks
    assert find_lock(study) == paths["json"]
    match = check_preregistration(study)
    assert match.ok and "matches the registration" in match.detail and match.mark == "ok"
    study.write_text(study.read_text().replace("trials = 4", "trials = 6").replace("Test study", "Changed"))
    changed = check_preregistration(study)
    assert not changed.ok and not changed.blocking and changed.mark == "warn"
    assert "DEVIATION" in changed.detail and "tasks[0] (changed)" in changed.detail
    assert "study.title (changed)" in changed.detail and "design" not in changed.detail
    assert _sha(study)[:12] in changed.detail


def test_comment_edit_and_script_edit_are_named(tmp_path, checkpoint_dir, stimuli_dir):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="")
    paths = write_prereg(study, tmp_path / "prereg_elsewhere", power=False)
    study.write_text(study.read_text() + "# a comment\n")
    found = deviation(study, paths["json"])
    assert not found.matches and "formatting or comments only" in found.describe()
    paths["analysis.py"].write_text(paths["analysis.py"].read_text() + "\n# edited\n")
    assert deviation(study, paths["json"]).scripts_changed == ("analysis.py",)


def test_another_studys_lock_is_not_this_studys(tmp_path, checkpoint_dir, stimuli_dir):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="")
    write_prereg(study, power=False)
    other = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="", sid="other")
    assert find_lock(other) is None and check_preregistration(other).ok


@pytest.mark.parametrize(("protocol", "effect", "reason"), [
    ("verification", "diff:0.1", "needs --baseline"),
    ("rate", None, "no task with a right answer"),
])
def test_missing_power_input_is_said(tmp_path, checkpoint_dir, stimuli_dir, protocol, effect, reason):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, protocol, rules="", tail="")
    _, md, _ = _written(study, tmp_path / "out", effect=effect)
    assert "Sample size: not computed: " in md and reason in md
    assert "Planned sample" not in md


def test_cli_writes_and_refuses_a_bad_file_in_one_line(tmp_path, checkpoint_dir, stimuli_dir, capsys):
    study = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="")
    assert main(["prereg", "--study", str(study), "--out", str(tmp_path / "o"), "--no-power"]) == 0
    assert (tmp_path / "o" / "prereg.html").is_file() and "wrote" in capsys.readouterr().out
    (tmp_path / "bad.toml").write_text("[study\n")
    assert main(["prereg", "--study", str(tmp_path / "bad.toml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xai-study prereg: ") and "not valid TOML" in err and "Traceback" not in err
    assert not (tmp_path / "prereg").exists()


def test_export_warns_of_a_deviation(tmp_path, checkpoint_dir, stimuli_dir, make_engine_for, monkeypatch, capsys):
    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    study_path = _study(tmp_path, checkpoint_dir, stimuli_dir, "verification", rules="", tail="")
    write_prereg(study_path, power=False)

    def run_and_export(seed: int) -> int:
        repo = Repository(make_engine(f"sqlite:///{study_path.parent / 'responses.sqlite'}"))
        run_participant(make_engine_for(load_study(study_path), repo), random.Random(seed))
        repo.dispose()
        return main(["export", "--study", str(study_path), "--out", str(tmp_path / "results" / "responses.csv")])

    assert run_and_export(0) == 0
    assert "DEVIATION" not in capsys.readouterr().err
    study_path.write_text(study_path.read_text().replace("Test study", "Edited study"))
    assert run_and_export(1) == 0  # the edited version ran and exports, with the warning
    err = capsys.readouterr().err
    assert "export: warning: DEVIATION" in err and "study.title (changed)" in err
