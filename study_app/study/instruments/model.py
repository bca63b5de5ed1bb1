"""What a validated questionnaire is made of: items, a response scale, subscales with their scoring rule,
and where it comes from (citation, reproduction basis, the source of each translation).

Plain data: :mod:`study_app.study.instruments.library` defines the scales, :mod:`.expand` turns one into the
study's :class:`~study_app.study.steps.Question` items and :mod:`.scoring` scores answers as published.
"""

from __future__ import annotations

from dataclasses import dataclass

BEFORE_TRIALS = "before_trials"
AFTER_TRIALS = "after_trials"
PER_ARM = "per_arm"
PLACEMENTS = (BEFORE_TRIALS, AFTER_TRIALS, PER_ARM)

UNVALIDATED = "this project's translation, not validated"

MEAN = "mean"
SUM_X2_5 = "sus"  # Brooke (1996): (odd - 1) + (5 - even), summed, times 2.5 -> 0..100
TIMES_5 = "times_5"  # NASA-TLX: mark on a 21-gradation scale (0..20) times 5 -> 0..100


@dataclass(frozen=True)
class Item:
    """One item: ``key`` makes the question id (``<id_prefix>_<key>``), ``text`` is the English text as
    published (marked with ``N_`` for the catalogues), ``reverse`` whether it is reverse-coded in a score that
    reverses it, ``anchors`` the item's own end anchors where it has them (NASA-TLX's Performance)."""

    key: str
    text: str
    reverse: bool = False
    anchors: tuple[str, str] | None = None


@dataclass(frozen=True)
class Subscale:
    """A score: the items it takes (``keys``), the rule (``mean`` of the coded items, or the instrument's
    published transformation), whether reverse-coded items are reversed in it, and a note shown with it."""

    name: str
    keys: tuple[str, ...]
    rule: str = MEAN
    reverses: bool = False
    note: str = ""


@dataclass(frozen=True)
class Instrument:
    """A validated scale as published. ``low``/``high``: the response values; ``anchors``: every published
    response label from ``low`` to ``high`` (or just the two end labels); ``translations``: language -> where
    its text comes from (a published version, or :data:`UNVALIDATED`)."""

    name: str
    title: str
    items: tuple[Item, ...]
    low: int
    high: int
    anchors: tuple[str, ...]
    subscales: tuple[Subscale, ...]
    placements: tuple[str, ...]
    citation: str
    licence: str
    translations: dict[str, str]
    scoring: str
    missing: str = "any missing item makes the score NaN (the published rule does not prorate)"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.items)

    @property
    def reverse_keys(self) -> tuple[str, ...]:
        return tuple(i.key for i in self.items if i.reverse)

    def item(self, key: str) -> Item:
        return next(i for i in self.items if i.key == key)

    def coded(self, key: str, value: float, subscale: Subscale) -> float:
        """``value`` as it enters ``subscale``: reversed (``low + high - value``) where the subscale reverses
        reverse-coded items."""
        return self.low + self.high - value if subscale.reverses and self.item(key).reverse else value
