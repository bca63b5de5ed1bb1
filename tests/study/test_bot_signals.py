"""The bot and LLM-agent signals' rules: what the browser sent becomes the stored figures, and each flag is raised
exactly by its rule (study_app.study.bot_signals). Empty, never false, where a rule cannot be judged."""

from __future__ import annotations

import numpy as np
import pytest

from study_app.store.records import BOT_SIGNAL_COLUMNS
from study_app.study.bot_signals import (
    FLAGS,
    PAUSE_MS,
    BotRules,
    cadence,
    participant_columns,
    raised,
    step_flags,
    summarise,
    trial_columns,
)

RULES = BotRules()


def _raw(**given) -> dict:
    base = {"pointer_moves": 40, "pointer_path_px": 900, "pointer_clicks": 2, "key_presses": 0, "untrusted_events": 0,
            "text_fields": 0, "paste_count": 0, "pasted_chars": 0, "typed_chars": 0, "key_interval_list": [],
            "honeypot": False, "hidden_count": 0, "page_load": "abcd1234"}
    return {**base, **given}


@pytest.mark.parametrize("values", [[100, 250, 130, 180, 90, 400, 210], [5.5, 5.5], list(range(1, 42, 3))])
def test_cadence_is_the_median_and_the_type_7_interquartile_range(values):
    median, iqr = cadence(values)
    q1, q3 = np.percentile(values, [25, 75])  # numpy's default: linear interpolation (R type 7)
    assert median == round(float(np.median(values)), 1) and iqr == round(float(q3 - q1), 1)
    assert cadence([120]) == (None, None) and cadence([]) == (None, None)


def test_summarise_keeps_the_counts_drops_pauses_and_junk_and_sends_no_intervals():
    stored = summarise(_raw(key_presses=7, text_fields=1, typed_chars=6,
                            key_interval_list=[150, 90, PAUSE_MS + 1, -3, "x", float("nan"), 200, True],
                            pointer_moves=-5, honeypot="yes"))
    assert set(stored) == set(BOT_SIGNAL_COLUMNS)  # the figures only: the intervals themselves are not kept
    assert stored["key_intervals"] == 3 and stored["key_interval_median_ms"] == 150.0
    assert stored["pointer_moves"] == 0  # malformed counts as zero
    assert stored["honeypot"] is False  # only a true report says the hidden item was answered
    assert summarise({"hidden_count": 1, "page_load": "abcd1234"}) is None  # a page without the bot signals
    assert summarise(None) is None


def test_a_keyboard_only_or_touch_step_is_not_flagged_and_an_inputless_one_is():
    keyboard = summarise(_raw(pointer_moves=0, pointer_path_px=0, pointer_clicks=0, key_presses=6))
    touch = summarise(_raw(pointer_moves=0, pointer_path_px=0, pointer_clicks=3))
    nothing = summarise(_raw(pointer_moves=0, pointer_path_px=0, pointer_clicks=0, untrusted_events=4))
    assert step_flags(keyboard, RULES)["flag_no_pointer_no_keys"] is False
    assert step_flags(touch, RULES)["flag_no_pointer_no_keys"] is False
    assert step_flags(nothing, RULES)["flag_no_pointer_no_keys"] is True


def test_paste_is_flagged_from_the_threshold_and_unjudged_without_a_text_field():
    def flag(**given):
        return step_flags(summarise(_raw(**given)), RULES)["flag_paste"]
    assert flag(text_fields=1, paste_count=1, pasted_chars=RULES.paste_min_chars) is True
    assert flag(text_fields=1, paste_count=1, pasted_chars=RULES.paste_min_chars - 1) is False
    assert flag(text_fields=0) is None


def test_uniform_cadence_needs_enough_intervals_and_a_narrow_spread():
    rng = np.random.default_rng(3)
    human = list(rng.lognormal(np.log(180), 0.5, 60).clip(20, 1900))
    robot = list(100 + rng.uniform(-2, 2, 60))

    def flag(intervals):
        return step_flags(summarise(_raw(text_fields=1, key_presses=len(intervals) + 1,
                                         key_interval_list=intervals)), RULES)["flag_uniform_cadence"]
    assert flag(robot) is True
    assert flag(human) is False
    assert flag(robot[:RULES.cadence_min_intervals - 1]) is None  # too few to say
    assert flag([0.0] * 30) is True  # every key at once: IQR 0 of median 0


def test_honeypot_flag_and_no_signals_give_empty_flags():
    assert step_flags(summarise(_raw(honeypot=True)), RULES)["flag_honeypot"] is True
    assert step_flags(None, RULES) == dict.fromkeys(FLAGS)
    assert set(trial_columns([], RULES).values()) == {None}
    assert set(participant_columns([], RULES).values()) == {None}


def test_a_trial_sums_its_phases_and_a_participant_counts_flagged_steps():
    plain = summarise(_raw())
    pasted = summarise(_raw(text_fields=1, paste_count=2, pasted_chars=300, typed_chars=4))
    agent = summarise(_raw(pointer_moves=0, pointer_path_px=0, pointer_clicks=0, honeypot=True))
    trial = trial_columns([plain, agent], RULES)
    assert trial["pointer_moves"] == 40 and trial["pointer_clicks"] == 2
    assert trial["paste_count"] is None and trial["flag_paste"] is None  # no free text on this trial
    assert trial["flag_honeypot"] is True and trial["flag_no_pointer_no_keys"] is True
    person = participant_columns([plain, pasted, agent], RULES)
    assert person["bot_signal_steps"] == 3 and person["pasted_chars"] == 300
    assert person["flag_paste"] is True and person["flag_paste_steps"] == 1
    assert person["flag_uniform_cadence"] is None and person["flag_uniform_cadence_steps"] is None
    assert raised(person) == ["no_pointer_no_keys", "paste", "honeypot"]


def test_the_device_is_kept_per_step_trial_and_participant_and_junk_is_dropped():
    phone = summarise(_raw(viewport_width=360, viewport_height=740.4, touch_screen=True))
    desk = summarise(_raw(viewport_width=1440, viewport_height=900, touch_screen=False))
    junk = summarise(_raw(viewport_width=-3, viewport_height="big", touch_screen="yes"))
    assert (phone["viewport_width"], phone["viewport_height"], phone["touch_screen"]) == (360, 740, True)
    assert (junk["viewport_width"], junk["viewport_height"], junk["touch_screen"]) == (None, None, None)
    rules = RULES
    trial = trial_columns([desk, phone], rules)  # a trial: its last phase's window
    assert (trial["viewport_width"], trial["touch_screen"]) == (360, True)
    person = participant_columns([phone, phone, desk, junk], rules)  # the median window; touch if any step
    assert (person["viewport_width"], person["viewport_height"], person["touch_screen"]) == (360, 740, True)
    assert participant_columns([desk, junk], rules)["touch_screen"] is False
    assert participant_columns([junk], rules)["viewport_width"] is None
