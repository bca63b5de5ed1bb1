"""A simulated decision study's ``responses.csv`` (as ``xai-study export`` writes it), with planted effects.

Within subjects, two-step, four arms (human, ai, gradcam, placebo), 16 trials per participant: each arm gets
2 AI-wrong and 2 AI-right trials, rotated over participants (as ``study.decision`` balances them), from a pool
of 48 images in four classes. The participant's own (initial) answer is right with log-odds
``0.6 + ability + image ease``; on advice trials the final answer **agrees with the AI** with log-odds
``AGREE[(arm, ai_right)] + u + v`` (``u`` ~ N(0, 0.8) per participant, ``v`` ~ N(0, 0.5) per image): this is
exactly the logistic mixed model ``agree ~ arm + (1 | participant) + (1 | image)`` the scripts fit on
AI-wrong and on AI-right trials, so the conditional log odds ratios against ``ai`` are planted:
:data:`PLANTED`. Otherwise the final answer is the initial one (or, when that is the AI's, another class).
``human`` trials show no advice and have one answer (no ``answer_initial``), as the export writes them.
One attention check per participant, to be left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study_app.export import RESPONSE_COLUMNS, write_csv

ARMS = ("human", "ai", "gradcam", "placebo")
CLASSES = ("glioma", "meningioma", "notumor", "pituitary")
AGREE = {("ai", 0): -0.6, ("gradcam", 0): 0.4, ("placebo", 0): 0.3,  # AI wrong: explanations raise over-reliance
         ("ai", 1): 1.2, ("gradcam", 1): 1.9, ("placebo", 1): 1.2}
PLANTED = {  # conditional log odds ratios against the ai arm, per reliance model
    "agreement_ai_wrong": {f"arm{a}": AGREE[(a, 0)] - AGREE[("ai", 0)] for a in ("gradcam", "placebo")},
    "agreement_ai_right": {f"arm{a}": AGREE[(a, 1)] - AGREE[("ai", 1)] for a in ("gradcam", "placebo")},
}
STUDY_TOML = """\
[study]
id = "sim-decision"
[design]
type = "within"
[[methods]]
name = "gradcam"
[[tasks]]
name = "mri"
protocol = "decision"
arms = ["human", "ai", "gradcam", "placebo"]
trials = 16
scale = [1, 5]
"""
COLUMNS = RESPONSE_COLUMNS + ["arm", "decision_variant", "advice_on_request", "answer_initial", "answer_final",
                              "answer_confidence_initial", "answer_confidence_final", "response_time_ms_initial",
                              "response_time_ms_final"]


def _expit(x):
    return 1 / (1 + np.exp(-x))


def simulate(path, n_participants: int, seed: int = 0, n_images: int = 48) -> pd.DataFrame:
    """Write the export to ``path`` and return its rows (attention checks included) as a frame."""
    rng = np.random.default_rng(seed)
    truth = [CLASSES[i % 4] for i in range(n_images)]
    wrong_ai = [CLASSES[(i + 1 + i // 4 % 3) % 4] for i in range(n_images)]  # the AI's wrong answer, never the truth
    ease, v = rng.normal(0, 0.6, n_images), rng.normal(0, 0.5, n_images)
    rows = []
    for p in range(n_participants):
        ability, u = rng.normal(0, 0.6), rng.normal(0, 0.8)
        images = rng.permutation(n_images)[:16]
        for k, i in enumerate(images):
            ai_right = int(k % 2 == 0)  # 8 AI-right, 8 AI-wrong trials
            arm = ARMS[(p + k // 2) % 4]  # each arm: 2 right + 2 wrong, rotated over participants
            ai = truth[i] if ai_right else wrong_ai[i]
            initial = truth[i] if rng.random() < _expit(0.6 + ability + ease[i]) else \
                rng.choice([c for c in CLASSES if c != truth[i]])
            final = initial
            if arm != "human":
                if rng.random() < _expit(AGREE[(arm, ai_right)] + u + v[i]):
                    final = ai
                elif initial == ai:
                    final = rng.choice([c for c in CLASSES if c != ai])
            rows.append({
                "study_id": "sim-decision", "participant": f"P{p:04d}", "condition": str(p % 4), "trial_index": k,
                "task": "mri", "protocol": "decision", "phases": "final" if arm == "human" else "initial;final",
                "image_id": f"{truth[i]}/img{i:03d}.png", "true_label": truth[i], "predicted_label": ai,
                "predicted_prob": 0.8, "model_correct": bool(ai_right), "methods": "gradcam" if arm in (
                    "gradcam", "placebo") else "none", "arm": arm, "decision_variant": "two_step",
                "advice_on_request": False, "is_attention_check": False, "correct": final == truth[i],
                "answer_initial": None if arm == "human" else initial, "answer_final": final,
                "answer_confidence_initial": None if arm == "human" else int(rng.integers(1, 6)),
                "answer_confidence_final": int(np.clip(round(3 + (arm == "gradcam") + rng.normal()), 1, 5)),
                "response_time_ms": 5000, "response_time_ms_initial": None if arm == "human" else 2500,
                "response_time_ms_final": 2500,
            })
        rows.append({"study_id": "sim-decision", "participant": f"P{p:04d}", "trial_index": 16, "task": "mri",
                     "protocol": "decision", "image_id": "check.png", "methods": "none", "arm": "ai",
                     "is_attention_check": True, "attention_passed": True, "answer_final": "glioma"})
    write_csv(path, rows, COLUMNS)
    return pd.DataFrame(rows)
