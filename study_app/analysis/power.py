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

Which trials a participant gives each arm is the design's ``layout`` per condition (the decision protocol
draws them by the model's correctness and rotates the arms over them: :mod:`study_app.analysis.power_decision`),
so within subjects an arm's AI-wrong trials can differ between conditions. Participants fill the conditions
evenly, as the engine's least-filled assignment does; only those with the tested trials in both compared arms
(within) enter the test. Where conditions differ in the expected difference (AI-wrong trials harder and
unevenly spread), that spread enters the t-test's variance but not the mean's, so the test is conservative
there too (``tests/analysis/test_power_decision.py`` gives the closed form it matches without random effects).

Effect sizes: Cohen's h for two proportions is ``2 asin(sqrt(p1)) - 2 asin(sqrt(p0))``
(:func:`cohens_h`); Cohen's f for an ANOVA is ``sqrt(eta² / (1 - eta²))`` (:func:`cohens_f_from_eta2`).
Power routines that expect f (G*Power, statsmodels ``FTestAnovaPower``) give wrong answers when passed
eta², as some tools do; convert first.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

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
        within: True when every participant sees every arm, False when each participant is in one arm
            (participants split evenly, participant ``p`` in condition ``p mod`` the number of conditions).
        ai_wrong_share: Share of each participant's trials on which the AI is wrong.
        layout: ``layout[c][j] = (AI-wrong, AI-right)`` trials a participant in condition ``c`` gives in arm
            ``arms[j]`` (the decision protocol's draw: :func:`study_app.analysis.power_decision.decision_layout`);
            ``None``: every participant gives each arm ``trials // len(arms)`` trials (within; all ``trials``
            in their arm between), ``round(ai_wrong_share x`` that ``)`` of them AI-wrong.
        n_images: Stimulus pool, split into AI-wrong and AI-right images by ``ai_wrong_share``; ``None``: as
            many as ``trials`` (every participant sees the same items, as the fixed-item protocols do).
        pool_wrong, pool_right: The AI-wrong and AI-right pools where they are known (a decision task's
            eligible stimuli); they take precedence over ``n_images``.
        sd_participant: Standard deviation of participant intercepts (logit scale).
        sd_image: Standard deviation of image intercepts (logit scale).
    """

    trials: int
    arms: tuple[str, ...]
    within: bool
    reference: str
    treatment: str
    ai_wrong_share: float = 0.0
    layout: tuple[tuple[tuple[int, int], ...], ...] | None = None
    n_images: int | None = None
    pool_wrong: int | None = None
    pool_right: int | None = None
    sd_participant: float = 0.5
    sd_image: float = 0.5

    def __post_init__(self):
        if self.reference not in self.arms or self.treatment not in self.arms or self.reference == self.treatment:
            raise ValueError(f"reference and treatment must be two different arms of {', '.join(self.arms)}")
        if not 0 <= self.ai_wrong_share <= 1:
            raise ValueError("ai_wrong_share must be between 0 and 1")
        if self.layout is None and self.within and self.trials < len(self.arms):
            raise ValueError(f"{self.trials} trials cannot be split over {len(self.arms)} arms")
        if self.layout is not None and any(len(row) != len(self.arms) for row in self.layout):
            raise ValueError("layout needs one (AI-wrong, AI-right) pair per arm in every condition")
        cells = self.cells()
        for arm in (self.reference, self.treatment):
            if cells[:, self.arms.index(arm)].sum() == 0:
                raise ValueError(f"arm {arm} gets no trials in this design")

    def cells(self) -> np.ndarray:
        """``(conditions, arms, 2)``: AI-wrong (``[..., 0]``) and AI-right (``[..., 1]``) trials per arm."""
        if self.layout is not None:
            return np.array(self.layout, dtype=int).reshape(len(self.layout), len(self.arms), 2)
        k = len(self.arms)
        per_arm = self.trials // k if self.within else self.trials
        wrong = round(self.ai_wrong_share * per_arm)
        if self.within:
            return np.tile([wrong, per_arm - wrong], (1, k, 1))
        return np.eye(k, dtype=int)[:, :, None] * np.array([wrong, per_arm - wrong])

    def wrong_share_of(self, arm: str) -> float:
        """Share of ``arm``'s trials, over all conditions, on which the AI is wrong."""
        counts = self.cells()[:, self.arms.index(arm)].sum(axis=0)
        return float(counts[0] / counts.sum())

    def pools(self) -> tuple[int, int]:
        """(AI-wrong, AI-right) images the trials are drawn from (at least one of each kind that is used)."""
        used = self.cells().max(axis=(0, 1)) > 0
        if self.pool_wrong is not None and self.pool_right is not None:
            wrong, right = self.pool_wrong, self.pool_right
        else:
            total = self.n_images or self.trials
            wrong = round(self.ai_wrong_share * total)
            right = total - wrong
        return max(wrong, int(used[0])), max(right, int(used[1]))


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
    for i, (p, arm) in enumerate(((effect.p_reference, design.reference), (effect.p_treatment, design.treatment))):
        if effect.on == "all":
            out[i, 0] = _solve(p, sd, design.wrong_share_of(arm), effect.ai_wrong_logit)
            out[i, 1] = out[i, 0] + effect.ai_wrong_logit
        else:
            hit = 1 if effect.on == "ai_wrong" else 0
            out[i, hit] = _solve(p, sd)
            out[i, 1 - hit] = _solve(effect.other_accuracy, sd)
    return out


def compared_counts(design: PowerDesign, n_participants: int, on: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """Who enters the test, and with how many trials.

    Returns ``counts`` ``(n, 2, 2)``: for each participant who does, AI-wrong and AI-right trials in the
    reference (``[:, 0]``) and treatment (``[:, 1]``) arm; and ``treated`` ``(n,)``: between subjects, whether
    the participant is in the treatment arm. Participant ``p`` is in condition ``p mod`` the number of
    conditions (balanced assignment, no drop-outs). A participant enters when the trials the test looks at
    (``on``) exist in both compared arms (within) or in one of them (between).
    """
    cells = design.cells()
    condition = np.arange(n_participants) % len(cells)
    pair = [design.arms.index(design.reference), design.arms.index(design.treatment)]
    counts = cells[condition][:, pair, :]
    looked_at = counts[:, :, _KINDS[on]].sum(axis=2)
    keep = (looked_at > 0).all(axis=1) if design.within else (looked_at > 0).any(axis=1)
    return counts[keep], looked_at[keep, 1] > 0


_KINDS = {"all": [0, 1], "ai_wrong": [0], "ai_right": [1]}  # columns of PowerDesign.cells() the test looks at


def _participant_accuracy(rng, n_sims: int, design: PowerDesign, a: np.ndarray, counts: np.ndarray,
                          on: str) -> np.ndarray:
    """Simulated accuracies ``(n_sims, n, 2)`` in the reference and treatment arm on the trials the test looks
    at (NaN where a participant has none, as between subjects in the arm they are not in).

    Image intercepts are drawn once per simulated study and shared by all participants and arms, as the same
    stimuli are. A participant's images of one kind (AI-wrong or AI-right) are consecutive from a random start
    in that kind's pool, distinct whenever the pool is large enough, so images are shared and crossed with
    participants as in a study.
    """
    n = counts.shape[0]
    u = rng.normal(0, design.sd_participant, (n_sims, n, 1, 1))
    total = np.zeros((n_sims, n, 2))
    for kind, pool in zip((0, 1), design.pools(), strict=True):
        m = int(counts[:, :, kind].max()) if n else 0
        if m == 0 or kind not in _KINDS[on]:
            continue  # trials the test does not look at are independent of it given u: not simulated
        v = rng.normal(0, design.sd_image, (n_sims, 1, pool))
        start = rng.integers(0, pool, (n_sims, n, 1))
        idx = (start + np.arange(2 * m)) % pool  # this participant's images of this kind, both arms
        effects = np.take_along_axis(np.broadcast_to(v, (n_sims, n, pool)), idx, axis=2).reshape(n_sims, n, 2, m)
        logits = a[:, 1 - kind][None, None, :, None] + u + effects  # a's second index is 1 for AI-wrong
        hits = (rng.random(logits.shape) < 1 / (1 + np.exp(-logits))) & (np.arange(m) < counts[:, :, kind, None])
        total += hits.sum(axis=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / counts[:, :, _KINDS[on]].sum(axis=2)


def _reject(sample: np.ndarray, within: bool, alpha: float, treated: np.ndarray) -> np.ndarray:
    """Per simulation: does the two-sided t-test reject? ``sample`` is ``(n_sims, n, 2)``; between subjects
    ``treated`` says whose accuracy is in the treatment column (the others' is in the reference column)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if within:
            d = sample[:, :, 1] - sample[:, :, 0]
            n = d.shape[1]
            se = d.std(axis=1, ddof=1) / np.sqrt(n)
            t, df = d.mean(axis=1) / se, np.full(len(d), n - 1.0)
        else:
            x, y = sample[:, ~treated, 0], sample[:, treated, 1]
            vx, vy = x.var(axis=1, ddof=1) / x.shape[1], y.var(axis=1, ddof=1) / y.shape[1]
            t = (y.mean(axis=1) - x.mean(axis=1)) / np.sqrt(vx + vy)
            df = (vx + vy) ** 2 / (vx**2 / (x.shape[1] - 1) + vy**2 / (y.shape[1] - 1))
        p = 2 * stats.t.sf(np.abs(t), df)
    return np.nan_to_num(p, nan=1.0) < alpha


def simulate_power(design: PowerDesign, effect: Effect, n_participants: int, *, n_sims: int = 1000,
                   alpha: float = 0.05, seed: int = 0) -> float:
    """Share of ``n_sims`` simulated studies with ``n_participants`` in all whose test rejects; NaN when fewer
    than two participants per compared group enter the test (:func:`compared_counts`).

    Between-subject participants are split evenly over all arms (the engine's balanced assignment), so
    only ``n_participants / len(arms)`` are in each compared arm.
    """
    cells = design.cells()
    for kind, name, other in ((0, "AI-wrong", "ai_wrong_share > 0"), (1, "AI-right", "ai_wrong_share < 1")):
        if effect.on == ("ai_wrong", "ai_right")[kind] and not cells[..., kind].any():
            raise ValueError(f"an effect on {name} trials needs {name} trials in the design ({other})")
    rng = np.random.default_rng(seed)
    a = intercepts(design, effect)
    counts, treated = compared_counts(design, n_participants, effect.on)
    groups = (len(counts),) if design.within else (int((~treated).sum()), int(treated.sum()))
    if min(groups) < 2:
        return float("nan")
    chunk = max(1, MAX_CELLS // max(1, 2 * counts.shape[0] * int(counts.max())))
    hits = 0
    for start in range(0, n_sims, chunk):
        m = min(chunk, n_sims - start)
        sample = _participant_accuracy(rng, m, design, a, counts, effect.on)
        hits += int(_reject(sample, design.within, alpha, treated).sum())
    return hits / n_sims


@dataclass(frozen=True)
class PowerRow:
    """Power at one N. ``n_tested``: participants the test compares (within: those with the tested trials in
    both arms; between: in the smaller of the two compared arms)."""

    n_participants: int
    n_tested: int
    power: float
    mc_se: float
    seconds: float


def power_curve(design: PowerDesign, effect: Effect, *, target: float = 0.8, n_grid: list[int] | None = None,
                n_max: int = 2000, n_sims: int = 1000, alpha: float = 0.05, seed: int = 0, resolution: float = 0.05,
                progress: Callable[[PowerRow], None] | None = None) -> list[PowerRow]:
    """Power at each N of ``n_grid``, or (without one) at doubling N from two per arm until ``target`` is
    reached, then bisecting on multiples of the arm and condition count until the bracket is narrower than ``resolution`` of N
    (finer steps would only chase Monte-Carlo noise).

    Every N uses its own seed derived from ``seed`` and N, so a row is reproducible on its own.
    """
    k = math.lcm(len(design.arms), len(design.cells()))
    rows: dict[int, PowerRow] = {}

    def run(n: int) -> PowerRow:
        if n not in rows:
            began = time.perf_counter()
            p = simulate_power(design, effect, n, n_sims=n_sims, alpha=alpha, seed=seed * 1_000_003 + n)
            se = float(np.sqrt(p * (1 - p) / n_sims)) if not np.isnan(p) else float("nan")
            counts, treated = compared_counts(design, n, effect.on)
            tested = len(counts) if design.within else int(min(treated.sum(), (~treated).sum()))
            rows[n] = PowerRow(n, tested, p, se, time.perf_counter() - began)
            if progress:
                progress(rows[n])
        return rows[n]

    if n_grid:
        for n in n_grid:
            run(n)
        return [rows[n] for n in sorted(rows)]
    lo, hi = 0, 2 * k
    while not run(hi).power >= target:  # NaN (too few participants to test) is not reached
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

