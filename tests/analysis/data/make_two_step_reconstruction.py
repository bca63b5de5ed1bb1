"""Writes two_step_reconstruction.csv (per-trial answers) and two_step_reconstruction_table.csv (the per-arm table
under both empty-denominator conventions). Run from the repository root:

    .venv/bin/python tests/analysis/data/make_two_step_reconstruction.py

A synthetic reconstruction in the design of He, Kuiper & Gadiraju (2023, CHI, "Knowing about knowing"), whose
per-trial data (github.com/RichardHGL/CHI2023_DKE) may not be redistributed: each participant answers 12
four-option questions (A-D) first alone, then after the AI's advice (the same advice for every participant; the
AI is wrong on 4 of the 12), in one of two between-subject arms. Answers are drawn from a simple model (skill,
arm-dependent switching, a rare move to a third option); the seed is fixed.

The table is derived here independently of study_app: plain loops over each participant's trials that count the
four reliance cells of Schemmer et al. (2023) among trials where the initial answer differed from the advice
(positive/negative AI reliance, positive/negative self-reliance), and compute per participant accuracy, agreement
fraction, switch fraction and accuracy-wid as He et al. report them, then the mean per arm. Under ``zero`` (the
papers' convention) a participant with an empty denominator counts 0; under ``exclude`` they are left out.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

HERE = Path(__file__).parent
OPTIONS = "ABCD"
N_QUESTIONS, N_AI_WRONG, PER_ARM, SEED = 12, 3, 12, 2023
SWITCH = {"ai": 0.35, "xai": 0.55}  # chance to take the advice when it differs from the own answer
MEASURES = ("accuracy_final", "agreement", "switch_to_ai", "accuracy_wid", "rair", "rsr")


def generate() -> list[dict]:
    rng = random.Random(SEED)
    truth = [rng.choice(OPTIONS) for _ in range(N_QUESTIONS)]
    wrong = set(rng.sample(range(N_QUESTIONS), N_AI_WRONG))
    advice = [rng.choice([o for o in OPTIONS if o != t]) if q in wrong else t for q, t in enumerate(truth)]
    rows = []
    for arm in SWITCH:
        for n in range(PER_ARM):
            person, skill = f"{arm}-{n:02d}", rng.uniform(0.15, 0.95)
            for q in range(N_QUESTIONS):
                first = truth[q] if rng.random() < skill else rng.choice([o for o in OPTIONS if o != truth[q]])
                final = first
                if first != advice[q] and rng.random() < SWITCH[arm]:
                    final = advice[q]
                elif rng.random() < 0.05:
                    final = rng.choice([o for o in OPTIONS if o not in (first, advice[q])])
                rows.append({"participant": person, "arm": arm, "image": f"q{q}", "truth": truth[q],
                             "ai_answer": advice[q], "initial_answer": first, "final_answer": final})
    return rows


def participant_measures(trials: list[dict]) -> dict[str, tuple[int, int]]:
    """(numerator, denominator) per measure for one participant's trials."""
    n = len(trials)
    correct = agree = disagree = switched = wid_correct = 0
    par = nsr = psr = nar = 0  # Schemmer et al.'s cells, among trials with initial != advice
    for t in trials:
        first, final, ai, truth = t["initial_answer"], t["final_answer"], t["ai_answer"], t["truth"]
        correct += final == truth
        agree += final == ai
        if first != ai:
            disagree += 1
            switched += final == ai
            wid_correct += final == truth
            if ai == truth:
                par, nsr = par + (final == ai), nsr + (final != ai)
            elif first == truth:
                psr, nar = psr + (final == truth), nar + (final != truth)
    return {"accuracy_final": (correct, n), "agreement": (agree, n), "switch_to_ai": (switched, disagree),
            "accuracy_wid": (wid_correct, disagree), "rair": (par, par + nsr), "rsr": (psr, psr + nar)}


def arm_table(rows: list[dict]) -> list[dict]:
    people: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        people.setdefault((r["arm"], r["participant"]), []).append(r)
    out = []
    for arm in SWITCH:
        values = [participant_measures(trials) for (a, _), trials in sorted(people.items()) if a == arm]
        for m in MEASURES:
            zero = [k / d if d else 0.0 for k, d in (v[m] for v in values)]
            kept = [k / d for k, d in (v[m] for v in values) if d]
            out.append({"arm": arm, "measure": m, "participants": len(values),
                        "zero": f"{sum(zero) / len(zero):.4f}", "exclude": f"{sum(kept) / len(kept):.4f}",
                        "participants_exclude": len(kept)})
    return out


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    trials = generate()
    table = arm_table(trials)
    assert any(r["participants_exclude"] < r["participants"] for r in table if r["measure"] in ("rair", "rsr"))
    write(HERE / "two_step_reconstruction.csv", trials)
    write(HERE / "two_step_reconstruction_table.csv", table)
    for r in table:
        print(r)
