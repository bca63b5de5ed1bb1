"""Power before launch: simulate the study's own design and count how often the arm difference is found.

The generative model is the logistic mixed model the analysis scripts fit
(``correct ~ arm * ai_correct + (1 | participant) + (1 | image)``)::

    logit P(correct) = a[arm, ai_wrong] + u_participant + v_image,   u ~ N(0, sd_participant²), v ~ N(0, sd_image²)

The intercepts ``a`` are solved (Gauss-Hermite quadrature) so that the stated accuracies are the
**marginal** accuracies a researcher observes, averaged over participants, images and the AI-wrong share;
with random effects the conditional (logit) effect is larger than the marginal one, and stating the
marginal one is what a pilot gives you.

Each simulated data set is tested with a **cluster-level test on participant accuracies**, not a GLMM
(fitting one per replicate is too slow for a command that should answer in seconds): Welch's t-test on
participant accuracies between arms (between-subject designs) or a paired t-test on each participant's
accuracy difference (within-subject designs), two-sided. Participant means are the sufficient summary
when trials per participant and arm are equal, and the test keeps its level with participant and image
random intercepts (``tests/analysis/test_power.py`` checks the type-I error). A GLMM on the final data is
usually a little more powerful, so the N found here is on the safe side. With the effect stated on
AI-wrong trials only (``on="ai_wrong"``, the over-reliance hypothesis), the outcome is the participant's
accuracy on the AI-wrong trials of the arm, where the effect lives.

Effect sizes: Cohen's h for two proportions is ``2 asin(sqrt(p1)) - 2 asin(sqrt(p0))``
(:func:`cohens_h`); Cohen's f for an ANOVA is ``sqrt(eta² / (1 - eta²))`` (:func:`cohens_f_from_eta2`).
Power routines that expect f (G*Power, statsmodels ``FTestAnovaPower``) give wrong answers when passed
eta², as some tools do; convert first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats

EFFECT_ON = ("all", "ai_wrong", "ai_right")
MAX_CELLS = 4_000_000  # simulated trials held in memory at once (about 30 MB of float64)


@dataclass(frozen=True)
class PowerDesign:
    """The study's design as the simulation needs it.

    Attributes:
        trials: Scored trials per participant (all arms together).
        arms: Arm names, e.g. ``("human", "ai", "gradcam", "placebo")``; ``reference`` and ``treatment``
            are the two compared.
        within: True when every participant sees every arm (trials split evenly), False when each
            participant is in one arm (participants split evenly).
        ai_wrong_share: Share of each participant's trials (per arm, within) on which the AI is wrong.
        n_images: Stimulus pool; ``None``: as many as ``trials`` (every participant sees the same items,
            as the current engine does).
        sd_participant: Standard deviation of participant intercepts (logit scale).
        sd_image: Standard deviation of image intercepts (logit scale).
    """

    trials: int
    arms: tuple[str, ...]
    within: bool
    reference: str
    treatment: str
    ai_wrong_share: float = 0.0
    n_images: int | None = None
    sd_participant: float = 0.5
    sd_image: float = 0.5

    def __post_init__(self):
        if self.reference not in self.arms or self.treatment not in self.arms or self.reference == self.treatment:
            raise ValueError(f"reference and treatment must be two different arms of {', '.join(self.arms)}")
        if not 0 <= self.ai_wrong_share <= 1:
            raise ValueError("ai_wrong_share must be between 0 and 1")
        if self.trials_per_arm < 1:
            raise ValueError(f"{self.trials} trials cannot be split over {len(self.arms)} arms")

    @property
    def trials_per_arm(self) -> int:
        """Trials a participant gives in one arm (within: an even share; between: all of them)."""
        return self.trials // len(self.arms) if self.within else self.trials

    @property
    def wrong_per_arm(self) -> int:
        return round(self.ai_wrong_share * self.trials_per_arm)


@dataclass(frozen=True)
class Effect:
    """Marginal accuracy in the reference and the treatment arm, on the trials named by ``on``.

    ``on="all"``: over all trials; AI-wrong trials are ``ai_wrong_logit`` harder (log-odds, 0: no
    different). ``on="ai_wrong"`` / ``"ai_right"``: only on those trials; the others have accuracy
    ``other_accuracy`` in both arms.
    """

    p_reference: float
    p_treatment: float
    on: str = "all"
    other_accuracy: float | None = None
    ai_wrong_logit: float = 0.0

    def __post_init__(self):
        if self.on not in EFFECT_ON:
            raise ValueError(f"on must be one of {', '.join(EFFECT_ON)}")
        for p in (self.p_reference, self.p_treatment, self.other_accuracy):
            if p is not None and not 0 < p < 1:
                raise ValueError(f"accuracies must lie strictly between 0 and 1, got {p}")
        if self.on != "all" and self.other_accuracy is None:
            raise ValueError(f"an effect on {self.on} trials needs the accuracy of the other trials")


def cohens_h(p1: float, p0: float) -> float:
    """Cohen's h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0)) (Cohen 1988, ch. 6)."""
    return float(2 * np.arcsin(np.sqrt(p1)) - 2 * np.arcsin(np.sqrt(p0)))


def p_from_h(p0: float, h: float) -> float:
    """The proportion at Cohen's h from ``p0``."""
    angle = np.arcsin(np.sqrt(p0)) + h / 2
    if not 0 < angle < np.pi / 2:
        raise ValueError(f"h = {h} from {p0} leaves the range of proportions")
    return float(np.sin(angle) ** 2)


def p_from_odds_ratio(p0: float, odds_ratio: float) -> float:
    odds = p0 / (1 - p0) * odds_ratio
    return float(odds / (1 + odds))


def cohens_f_from_eta2(eta2: float) -> float:
    """Cohen's f = sqrt(eta² / (1 - eta²)); power routines for ANOVA expect f, not eta²."""
    if not 0 <= eta2 < 1:
        raise ValueError("eta² must be in [0, 1)")
    return float(np.sqrt(eta2 / (1 - eta2)))


def two_proportion_power(p0: float, p1: float, n0: float, n1: float, alpha: float = 0.05) -> float:
    """Two-sided power of the two-proportion z-test by Cohen's h (what statsmodels' ``NormalIndPower``
    computes from ``proportion_effectsize``): ``n0``/``n1`` independent observations per group."""
    shift = abs(cohens_h(p1, p0)) * np.sqrt(n0 * n1 / (n0 + n1))
    crit = stats.norm.isf(alpha / 2)
    return float(stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift))


_GH_X, _GH_W = np.polynomial.hermite_e.hermegauss(40)
_GH_W = _GH_W / _GH_W.sum()


def marginal_accuracy(intercept: float, sd: float) -> float:
    """E[expit(intercept + z)], z ~ N(0, sd²), by Gauss-Hermite quadrature."""
    return float(np.sum(_GH_W / (1 + np.exp(-(intercept + sd * _GH_X)))))


def _solve(target: float, sd: float, shift_share: float = 0.0, shift: float = 0.0) -> float:
    """Intercept whose mix (1 - share) * m(a) + share * m(a + shift) equals ``target``."""

    def gap(a):
        return (1 - shift_share) * marginal_accuracy(a, sd) + shift_share * marginal_accuracy(a + shift, sd) - target

    return float(optimize.brentq(gap, -30, 30, xtol=1e-10))


def intercepts(design: PowerDesign, effect: Effect) -> np.ndarray:
    """``a[arm, ai_wrong]`` for (reference, treatment) x (AI right, AI wrong), on the logit scale."""
    sd = float(np.hypot(design.sd_participant, design.sd_image))
    out = np.zeros((2, 2))
    for i, p in enumerate((effect.p_reference, effect.p_treatment)):
        if effect.on == "all":
            share = design.wrong_per_arm / design.trials_per_arm
            out[i, 0] = _solve(p, sd, share, effect.ai_wrong_logit)
            out[i, 1] = out[i, 0] + effect.ai_wrong_logit
        else:
            hit = 1 if effect.on == "ai_wrong" else 0
            out[i, hit] = _solve(p, sd)
            out[i, 1 - hit] = _solve(effect.other_accuracy, sd)
    return out


def _participant_accuracy(rng, n_sims: int, design: PowerDesign, a: np.ndarray, arm_of: np.ndarray,
                          on: str) -> np.ndarray:
    """Simulated accuracies ``(n_sims, n_people, k)`` on the trials the test looks at.

    ``arm_of[p, j]`` is the row of ``a`` (reference 0, treatment 1) of participant ``p``'s ``j``-th arm
    (within: ``[0, 1]`` for everyone; between: one column). Image intercepts are drawn once per simulated
    study and shared by all participants and arms, as the same stimuli are. Each participant gives
    ``trials_per_arm`` trials per arm, ``wrong_per_arm`` of them on AI-wrong images; images come from
    pools of AI-wrong and AI-right images, consecutive from a random start (distinct for one participant
    whenever the pool is large enough), so images are shared and crossed with participants as in a study.
    """
    t, w = design.trials_per_arm, design.wrong_per_arm
    n_people, k = arm_of.shape
    pool = design.n_images or design.trials
    pool_wrong = max(round(design.ai_wrong_share * pool), 1 if w else 0)
    pool_right = max(pool - pool_wrong, 1 if t - w else 0)
    u = rng.normal(0, design.sd_participant, (n_sims, n_people, 1))
    v_wrong = rng.normal(0, design.sd_image, (n_sims, 1, max(pool_wrong, 1)))
    v_right = rng.normal(0, design.sd_image, (n_sims, 1, max(pool_right, 1)))
    total = np.zeros((n_sims, n_people, k))
    for wrong, count, size, v in ((1, w, pool_wrong, v_wrong), (0, t - w, pool_right, v_right)):
        if count == 0 or (on != "all" and (on == "ai_wrong") != bool(wrong)):
            continue  # trials the test does not look at are independent of it given u: not simulated
        start = rng.integers(0, size, (n_sims, n_people, 1))
        idx = (start + np.arange(count * k)) % size  # this participant's images of this kind, all arms
        effects = np.take_along_axis(np.broadcast_to(v, (n_sims, n_people, v.shape[2])), idx, axis=2)
        arm_row = np.repeat(arm_of, count, axis=1)  # (n_people, count * k): trials ordered arm by arm
        logits = a[arm_row, wrong] + u + effects
        hits = rng.random(logits.shape) < 1 / (1 + np.exp(-logits))
        total += hits.reshape(n_sims, n_people, k, count).sum(axis=3)
    denominator = {"all": t, "ai_wrong": w, "ai_right": t - w}[on]
    return total / denominator


def _reject(sample: np.ndarray, within: bool, alpha: float, n_ref: int) -> np.ndarray:
    """Per simulation: does the two-sided t-test reject? ``sample`` is ``(n_sims, n, 2)`` (within) or
    ``(n_sims, n, 1)`` with the first ``n_ref`` participants in the reference arm (between)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if within:
            d = sample[:, :, 1] - sample[:, :, 0]
            n = d.shape[1]
            se = d.std(axis=1, ddof=1) / np.sqrt(n)
            t, df = d.mean(axis=1) / se, np.full(len(d), n - 1.0)
        else:
            x, y = sample[:, :n_ref, 0], sample[:, n_ref:, 0]
            vx, vy = x.var(axis=1, ddof=1) / x.shape[1], y.var(axis=1, ddof=1) / y.shape[1]
            t = (y.mean(axis=1) - x.mean(axis=1)) / np.sqrt(vx + vy)
            df = (vx + vy) ** 2 / (vx**2 / (x.shape[1] - 1) + vy**2 / (y.shape[1] - 1))
        p = 2 * stats.t.sf(np.abs(t), df)
    return np.nan_to_num(p, nan=1.0) < alpha


def simulate_power(design: PowerDesign, effect: Effect, n_participants: int, *, n_sims: int = 1000,
                   alpha: float = 0.05, seed: int = 0) -> float:
    """Share of ``n_sims`` simulated studies with ``n_participants`` in all whose test rejects.

    Between-subject participants are split evenly over all arms (the engine's balanced assignment), so
    only ``n_participants / len(arms)`` are in each compared arm.
    """
    if effect.on == "ai_wrong" and design.wrong_per_arm == 0:
        raise ValueError("an effect on AI-wrong trials needs ai_wrong_share > 0")
    if effect.on == "ai_right" and design.wrong_per_arm == design.trials_per_arm:
        raise ValueError("an effect on AI-right trials needs ai_wrong_share < 1")
    rng = np.random.default_rng(seed)
    a = intercepts(design, effect)
    k = len(design.arms)
    if design.within:
        n_ref = n_people = n_participants
        arm_of = np.tile([0, 1], (n_people, 1))
    else:
        n_ref = len(range(design.arms.index(design.reference), n_participants, k))
        n_people = n_ref + len(range(design.arms.index(design.treatment), n_participants, k))
        if min(n_ref, n_people - n_ref) < 2:
            return float("nan")
        arm_of = (np.arange(n_people) >= n_ref).astype(int)[:, None]
    if n_people < 2:
        return float("nan")
    chunk = max(1, MAX_CELLS // max(1, n_people * design.trials_per_arm * arm_of.shape[1]))
    hits = 0
    for start in range(0, n_sims, chunk):
        m = min(chunk, n_sims - start)
        sample = _participant_accuracy(rng, m, design, a, arm_of, effect.on)
        hits += int(_reject(sample, design.within, alpha, n_ref).sum())
    return hits / n_sims


@dataclass(frozen=True)
class PowerRow:
    n_participants: int
    n_per_arm: int
    power: float
    mc_se: float
    seconds: float


def power_curve(design: PowerDesign, effect: Effect, *, target: float = 0.8, n_grid: list[int] | None = None,
                n_max: int = 2000, n_sims: int = 1000, alpha: float = 0.05, seed: int = 0, resolution: float = 0.05,
                progress: Callable[[PowerRow], None] | None = None) -> list[PowerRow]:
    """Power at each N of ``n_grid``, or (without one) at doubling N from two per arm until ``target`` is
    reached, then bisecting on multiples of the arm count until the bracket is narrower than ``resolution`` of N
    (finer steps would only chase Monte-Carlo noise).

    Every N uses its own seed derived from ``seed`` and N, so a row is reproducible on its own.
    """
    k = len(design.arms)
    rows: dict[int, PowerRow] = {}

    def run(n: int) -> PowerRow:
        if n not in rows:
            began = time.perf_counter()
            p = simulate_power(design, effect, n, n_sims=n_sims, alpha=alpha, seed=seed * 1_000_003 + n)
            se = float(np.sqrt(p * (1 - p) / n_sims)) if not np.isnan(p) else float("nan")
            rows[n] = PowerRow(n, n if design.within else n // k, p, se, time.perf_counter() - began)
            if progress:
                progress(rows[n])
        return rows[n]

    if n_grid:
        for n in n_grid:
            run(n)
        return [rows[n] for n in sorted(rows)]
    lo, hi = 0, 2 * k
    while run(hi).power < target:
        if hi >= n_max:
            return [rows[n] for n in sorted(rows)]
        lo, hi = hi, min(2 * hi, n_max)
    while hi - lo > max(k, round(resolution * hi)):
        mid = lo + (hi - lo) // (2 * k) * k
        if mid in (lo, hi):
            break
        lo, hi = (lo, mid) if run(mid).power >= target else (mid, hi)
    return [rows[n] for n in sorted(rows)]


def smallest_n(rows: list[PowerRow], target: float = 0.8) -> int | None:
    """The smallest simulated N whose power reached ``target`` (``None`` if none did)."""
    return next((r.n_participants for r in sorted(rows, key=lambda r: r.n_participants) if r.power >= target), None)


def with_design(design: PowerDesign, **changes) -> PowerDesign:
    """A copy of ``design`` with ``changes`` (``None`` values ignored), re-validated."""
    return replace(design, **{k: v for k, v in changes.items() if v is not None})
