"""The generated analysis scripts: the Python one runs on a simulated export and finds the planted effect."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from study_app.analysis.scripts import plan_from_study, render_python, render_r
from study_app.cli import main
from study_app.export import RESPONSE_COLUMNS, write_csv

STUDY = "examples/studies/verification.toml"  # within; arms gradcam, occlusion, gradcam@random, none
ARM_EFFECT = {"none": 0.0, "gradcam": 1.2, "occlusion": 0.0, "gradcam@random": 0.0}  # log-odds of correct


def simulated_export(path, n_participants=48, n_images=16, seed=0):
    """``responses.csv`` as ``xai-study export`` writes it for the verification example, with gradcam
    raising accuracy (log-odds +1.2) and confidence (latent +1.0), one attention check per participant."""
    rng = np.random.default_rng(seed)
    arms = list(ARM_EFFECT)
    image_effect = rng.normal(0, 0.5, n_images)
    model_correct = np.arange(n_images) % 2 == 0  # half the items wrong, as the engine balances them
    rows = []
    for p in range(n_participants):
        u = rng.normal(0, 0.5)
        for i in range(n_images):
            arm = arms[(p + i) % len(arms)]  # Latin-square rotation of arms over images
            logit = 0.4 + ARM_EFFECT[arm] - 0.6 * (not model_correct[i]) + u + image_effect[i]
            correct = bool(rng.random() < 1 / (1 + np.exp(-logit)))
            accept = correct == bool(model_correct[i])
            latent = (1.0 if arm == "gradcam" else 0.0) + rng.logistic()
            rows.append({
                "study_id": "pets-verification", "participant": f"P{p:03d}", "condition": str(p % 4),
                "trial_index": i, "task": "pets", "protocol": "verification", "phases": "main",
                "image_id": f"{'cat' if i % 3 else 'dog'}/img{i:02d}.jpg", "true_label": "cat",
                "predicted_label": "cat" if model_correct[i] else "dog", "predicted_prob": 0.9,
                "model_correct": bool(model_correct[i]), "methods": arm, "is_attention_check": False,
                "correct": correct, "response_time_ms": 2500, "answer_decision": "accept" if accept else "reject",
                "answer_confidence": int(np.clip(np.digitize(latent, [-1.5, -0.5, 0.5, 1.5]) + 1, 1, 5)),
            })
        rows.append({"study_id": "pets-verification", "participant": f"P{p:03d}", "trial_index": n_images,
                     "task": "pets", "protocol": "verification", "image_id": "check.jpg", "methods": "none",
                     "is_attention_check": True, "attention_passed": True, "answer_decision": "accept",
                     "answer_confidence": 5})
    columns = RESPONSE_COLUMNS + ["answer_confidence", "answer_decision"]
    write_csv(path, rows, columns)
    return pd.DataFrame(rows)


def test_plan_reads_the_design():
    plan = plan_from_study(STUDY)
    (task,) = plan.tasks
    assert plan.design == "within" and task.reference == "none" and task.outcome == "correct"
    assert set(task.arms) == set(ARM_EFFECT) and task.likert == ("answer_confidence",) and task.scale == (1, 5)
    demo = plan_from_study("demo/study.toml")
    rate, kinds, mri, decision = demo.tasks
    assert rate.outcome is None and rate.effect_keys == ("lime", "kernel_shap", "gradcam")
    assert kinds.arms == ("gradcam", "examples", "concepts") and kinds.reference == "gradcam"  # the task's methods
    assert mri.protocol == "verification" and mri.reference == "lime"  # no control arm: the first method
    assert decision.protocol == "decision" and decision.reference == "human"
    assert decision.arms == ("human", "ai", "gradcam", "placebo") and decision.likert == ("answer_confidence_final",)


def test_r_script_fits_and_checks_the_mixed_models():
    text = render_r(plan_from_study(STUDY))
    assert 'run_task(list(name = "pets", protocol = "verification", outcome = "correct", reference = "none"' in text
    assert "glmer(as.formula(" in text and 'fit_logistic(spec$name, "accuracy", f, "correct", spec$reference, "arm * ai_correct")' in text
    assert "m@optinfo$conv$lme4$messages" in text and "isSingular(m)" in text  # checks reported in words
    assert "clmm(item ~ arm + (1 | participant) + (1 | image)" in text
    assert 'EMPTY_DENOMINATOR <- "exclude"' in text and "MIN_PARTICIPANTS_PER_ARM <- 5" in text
    demo = render_r(plan_from_study("demo/study.toml"))
    assert 'effect_keys = c("lime", "kernel_shap", "gradcam")' in demo
    assert 'protocol = "decision", outcome = "correct", reference = "human"' in demo


def test_settings_are_written_at_the_top_of_both_scripts(tmp_path, capsys):
    assert main(["analysis-script", "--study", STUDY, "--out", str(tmp_path), "--empty-denominator", "zero",
                 "--min-participants", "8"]) == 0
    assert "EMPTY_DENOMINATOR = zero" in capsys.readouterr().out
    py, r = (tmp_path / "analysis.py").read_text(), (tmp_path / "analysis.R").read_text()
    assert 'EMPTY_DENOMINATOR = "zero"' in py[:3000] and "MIN_PARTICIPANTS_PER_ARM = 8" in py[:3000]
    assert 'EMPTY_DENOMINATOR <- "zero"' in r[:3000] and "MIN_PARTICIPANTS_PER_ARM <- 8" in r[:3000]
    assert "study_app" not in "".join(line for line in py.splitlines() if line.startswith(("import", "from")))
    assert main(["analysis-script", "--study", STUDY, "--out", str(tmp_path), "--min-participants", "1"]) == 2
    assert "at least 2" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("Rscript") is None and not os.environ.get("CI"),
                    reason="R is not installed here (.ci/run installs it; in CI this test must run)")
def test_r_script_runs(tmp_path):
    simulated_export(tmp_path / "responses.csv")
    (tmp_path / "analysis.R").write_text(render_r(plan_from_study(STUDY)), encoding="utf-8")
    done = subprocess.run(["Rscript", "analysis.R", "responses.csv", "results"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    glmm = pd.read_csv(tmp_path / "results" / "pets_accuracy_glmm.csv", index_col="term")
    assert glmm.loc["armgradcam", "estimate"] > 0 and glmm.loc["armgradcam", "z"] > 2  # planted +1.2 log-odds
    status = pd.read_csv(tmp_path / "results" / "model_status.csv", index_col="model")
    assert status.loc["accuracy", "status"] == "ok" and "lme4::glmer" in status.loc["accuracy", "message"]


def test_python_script_recovers_the_arm_effect(tmp_path):
    truth = simulated_export(tmp_path / "responses.csv")
    assert main(["analysis-script", "--study", STUDY, "--out", str(tmp_path)]) == 0
    script = tmp_path / "analysis.py"
    assert script.read_text(encoding="utf-8") == render_python(plan_from_study(STUDY))
    done = subprocess.run([sys.executable, str(script), "responses.csv", "results"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    results = tmp_path / "results"

    glmm = pd.read_csv(results / "pets_accuracy_glmm.csv", index_col="term")
    assert abs(glmm.loc["armgradcam", "estimate"] - 1.2) < 2.5 * glmm.loc["armgradcam", "se"]  # planted +1.2
    assert glmm.loc["armgradcam", "z"] > 2 and (glmm["status"] == "ok").all()
    assert {"armocclusion", "armgradcam@random", "ai_correct", "armgradcam:ai_correct"} <= set(glmm.index)
    vc = pd.read_csv(results / "pets_accuracy_glmm_random_effects.csv", index_col="group")
    assert set(vc.index) == {"participant", "image"} and (vc["sd"] > 0).all()

    likert = pd.read_csv(results / "pets_answer_confidence_ordinal.csv", index_col="term")
    assert likert.loc["armgradcam", "estimate"] > 0 and likert.loc["armgradcam", "p"] < 0.05
    assert abs(likert.loc["armocclusion", "estimate"]) < likert.loc["armgradcam", "estimate"]
    # verification gets reliance too: accepting the AI's answer is agreeing with it
    status = pd.read_csv(results / "model_status.csv", index_col="model")
    assert {"accuracy", "agreement_ai_wrong", "agreement_ai_right"} <= set(status.index)
    # attention checks were left out: every scored trial and nothing else
    assert len(truth[~truth["is_attention_check"]]) == 48 * 16
    assert "task pets (verification): 768 trials, 48 participants, 16 images" in done.stdout
