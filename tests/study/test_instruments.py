"""The instrument library against the published definitions: item counts, response ranges, reverse-coded
items, subscales, scoring on hand-computed answers, where every text comes from, and the study file's
``{ instrument = ... }`` entries with their errors."""

from __future__ import annotations

import math
import tomllib

import pytest

from study.kit import write_study
from study_app.i18n import available_languages, read_catalog, translator
from study_app.study import StudyFileError
from study_app.study.fields import Problems
from study_app.study.instruments import (
    INSTRUMENTS,
    UNVALIDATED,
    get_instrument,
    instrument_questions,
    markdown_table,
    score_instrument,
)
from study_app.study.parser import _parse_questions, parse_study

# (items, low, high, reverse-coded keys) as published.
PUBLISHED = {
    "jian_trust": (12, 1, 7, ("1", "2", "3", "4", "5")),  # Jian et al. 2000: 5 distrust, 7 trust items
    "sus": (10, 1, 5, ("2", "4", "6", "8", "10")),  # Brooke 1996: the even items are negatively worded
    "nasa_tlx": (6, 0, 20, ()),  # Hart & Staveland 1988: 21 gradations; performance runs perfect -> failure
    "hoffman_satisfaction": (8, 1, 5, ()),  # Hoffman et al. 2018/2023: all positively worded
}


def answers(name: str, values, prefix: str | None = None) -> dict:
    instrument = get_instrument(name)
    return {f"{prefix or name}_{k}": v for k, v in zip(instrument.keys, values, strict=True)}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_items_ranges_and_reverse_coding_are_as_published(name):
    instrument = INSTRUMENTS[name]
    n, low, high, reverse = PUBLISHED[name]
    assert len(instrument.items) == n
    assert (instrument.low, instrument.high) == (low, high)
    assert instrument.reverse_keys == reverse
    assert len(set(instrument.keys)) == n
    assert len({i.text for i in instrument.items}) == n


def test_the_registry_holds_at_least_the_four_scales():
    assert set(PUBLISHED) <= set(INSTRUMENTS)


def test_jian_scores_trust_and_distrust_apart():
    jian = INSTRUMENTS["jian_trust"]
    subs = {s.name: s for s in jian.subscales}
    assert subs["trust"].keys == tuple(str(k) for k in range(6, 13)) and not subs["trust"].reverses
    assert subs["distrust"].keys == tuple(str(k) for k in range(1, 6)) and not subs["distrust"].reverses
    assert "I am wary of the system." in [jian.item(k).text for k in subs["distrust"].keys]
    assert jian.item("11").text == "I can trust the system."


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_every_instrument_says_where_it_comes_from(name):
    instrument = INSTRUMENTS[name]
    assert instrument.citation and instrument.licence and instrument.scoring
    assert any(year in instrument.citation for year in ("1988", "1996", "2000", "2018"))
    for language in available_languages():
        assert instrument.translations.get(language), f"{name}: no translation source for {language}"
    assert "not validated" in UNVALIDATED
    assert instrument.translations["de"].startswith(UNVALIDATED)  # no published German wording is used


# Hand-computed: SUS = 2.5 * (sum(odd - 1) + sum(5 - even)); Jian means; raw TLX = mean of 5 * mark.
@pytest.mark.parametrize("name,values,expected", [
    ("sus", [3] * 10, {"sus": 50.0}),
    ("sus", [5, 1] * 5, {"sus": 100.0}),
    ("sus", [1, 5] * 5, {"sus": 0.0}),
    ("sus", [4, 2, 4, 1, 4, 2, 5, 1, 4, 2], {"sus": 82.5}),  # odd 3+3+3+4+3 = 16, even 3+4+3+4+3 = 17
    ("jian_trust", [2] * 5 + [6] * 7, {"distrust": 2.0, "trust": 6.0, "overall": 6.0}),
    ("jian_trust", [1, 2, 3, 4, 5, 7, 6, 5, 4, 3, 2, 1],
     {"distrust": 3.0, "trust": 4.0, "overall": (7 + 6 + 5 + 4 + 3 + 28) / 12}),
    ("nasa_tlx", [10, 0, 20, 4, 12, 6],
     {"mental": 50.0, "physical": 0.0, "temporal": 100.0, "performance": 20.0, "effort": 60.0,
      "frustration": 30.0, "raw_tlx": 260 / 6}),
    ("hoffman_satisfaction", [5, 4, 4, 3, 5, 2, 1, 4], {"satisfaction": 3.5}),
])
def test_scores_match_the_hand_computed_values(name, values, expected):
    scores = score_instrument(name, answers(name, values))
    assert {k: v for k, v in scores.items() if not k.endswith("_note")} == pytest.approx(expected)
    assert not [k for k in scores if k.endswith("_note")]


def test_a_missing_or_invalid_item_makes_the_score_nan_with_a_reason():
    values = answers("jian_trust", [2] * 5 + [6] * 7)
    del values["jian_trust_12"]
    values["jian_trust_3"] = 9
    scores = score_instrument("jian_trust", values)
    assert math.isnan(scores["trust"]) and "jian_trust_12 missing" in scores["trust_note"]
    assert math.isnan(scores["distrust"]) and "jian_trust_3" in scores["distrust_note"]
    assert "1-7" in scores["distrust_note"]
    assert math.isnan(scores["overall"])
    sus = answers("sus", [3] * 10)
    sus["sus_2"] = None
    assert math.isnan(score_instrument("sus", sus)["sus"])  # never a partial score
    sus["sus_2"] = True
    assert "not a number" in score_instrument("sus", sus)["sus_note"]


def test_answers_read_back_from_a_csv_are_numbers_and_a_prefix_is_honoured():
    values = {k: str(v) for k, v in answers("sus", [3] * 10, prefix="after").items()}
    assert score_instrument("sus", values, id_prefix="after") == {"sus": 50.0}
    assert math.isnan(score_instrument("sus", values)["sus"])  # other ids: nothing answered


def test_questions_carry_the_published_scale_and_anchors():
    qs = instrument_questions("nasa_tlx", section="post_questionnaire")
    assert [q.id for q in qs] == ["nasa_tlx_mental", "nasa_tlx_physical", "nasa_tlx_temporal",
                                  "nasa_tlx_performance", "nasa_tlx_effort", "nasa_tlx_frustration"]
    assert {(q.kind, q.low, q.high) for q in qs} == {("likert", 0, 20)}
    assert qs[0].options == ("Very low", "Very high")
    assert qs[3].options == ("Perfect", "Failure")
    hoffman = instrument_questions("hoffman_satisfaction", section="post_questionnaire", id_prefix="es")
    assert hoffman[0].id == "es_1" and hoffman[0].options == ("I disagree strongly", "I agree strongly")


@pytest.mark.parametrize("name", sorted(INSTRUMENTS))
def test_every_text_and_anchor_is_in_german(name):
    instrument = INSTRUMENTS[name]
    catalog = read_catalog("de")
    texts = [i.text for i in instrument.items] + list(instrument.anchors)
    texts += [a for i in instrument.items for a in (i.anchors or ())]
    for text in texts:
        message = catalog.get(text)
        assert message is not None and message.string and not message.fuzzy, f"untranslated: {text!r}"
    german = instrument_questions(name, section="post_questionnaire", gettext=translator("de").gettext)
    english = instrument_questions(name, section="post_questionnaire")
    for de, en in zip(german, english, strict=True):
        assert de.text != en.text and de.options != en.options and de.id == en.id


@pytest.fixture
def good(tmp_path, checkpoint_dir, stimuli_dir) -> dict:
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir)
    return tomllib.loads(path.read_text())


def test_a_study_file_names_instruments_among_its_own_questions(good):
    good["post_questionnaire"] = [{"instrument": "sus"}, {"id": "comment", "text": "Anything else?", "kind": "text"},
                                  {"instrument": "jian_trust", "id_prefix": "trust_after"}]
    study = parse_study(good, "s.toml")
    ids = [q.id for q in study.post_questionnaire]
    assert ids[:10] == [f"sus_{k}" for k in range(1, 11)]
    assert ids[10] == "comment"
    assert ids[11:] == [f"trust_after_{k}" for k in range(1, 13)]
    assert study.post_questionnaire[0].text == "I think that I would like to use this system frequently."


def test_german_studies_get_the_german_items():
    problems = Problems()
    qs = _parse_questions("s.toml", "post_questionnaire", [{"instrument": "sus"}], (), problems,
                          translator("de").gettext)
    assert not problems.errors
    assert qs[0].text == translator("de").gettext("I think that I would like to use this system frequently.")
    assert qs[0].text != "I think that I would like to use this system frequently."


def test_a_german_study_file_shows_the_instruments_in_german(good):
    """Through the whole parser: a study whose language is German gets the German items (a bug while the
    translator was not passed from ``parse_study``)."""
    good["study"]["language"] = "de"
    good["post_questionnaire"] = [{"instrument": "sus"}]
    first = parse_study(good, "s.toml").post_questionnaire[0]
    assert first.text == translator("de").gettext("I think that I would like to use this system frequently.")
    assert first.text != "I think that I would like to use this system frequently."


@pytest.mark.parametrize("section,entry,field,words", [
    ("post_questionnaire", {"instrument": "trustometer"}, "post_questionnaire[0].instrument", "jian_trust, sus"),
    ("pre_questionnaire", {"instrument": "sus"}, "pre_questionnaire[0].instrument", "not before trials"),
    ("post_questionnaire", {"instrument": "sus", "placement": "before_trials"}, "post_questionnaire[0].placement",
     "does not fit"),
    ("post_questionnaire", {"instrument": "sus", "placement": "later"}, "post_questionnaire[0].placement",
     "before_trials, after_trials, per_arm"),
    ("post_questionnaire", {"instrument": "sus", "prefix": "x"}, "post_questionnaire[0].prefix", "unknown key"),
    ("post_questionnaire", {"instrument": "sus", "id_prefix": "no space"}, "post_questionnaire[0].id_prefix",
     "letters"),
    ("post_questionnaire", {"instrument": 3}, "post_questionnaire[0].instrument", "str"),
    ("comprehension", {"instrument": "sus"}, "comprehension[0].instrument", "pre_questionnaire"),
])
def test_bad_instrument_entries_name_their_field(good, section, entry, field, words):
    good[section] = [entry]
    with pytest.raises(StudyFileError) as err:
        parse_study(good, "s.toml")
    assert err.value.field == field
    assert words in str(err.value)
    assert "\n" not in str(err.value)


def test_the_same_instrument_twice_needs_its_own_prefix(good):
    good["post_questionnaire"] = [{"instrument": "sus"}, {"instrument": "sus"}]
    with pytest.raises(StudyFileError) as err:
        parse_study(good, "s.toml")
    assert err.value.field == "post_questionnaire[1].id_prefix" and "duplicate question id 'sus_1'" in str(err.value)
    good["post_questionnaire"][1]["id_prefix"] = "sus_again"
    assert len(parse_study(good, "s.toml").post_questionnaire) == 20


def test_the_researchers_table_names_every_scale_and_its_translation_source():
    table = markdown_table("de").splitlines()
    assert len(table) == 2 + len(INSTRUMENTS)
    for name, row in zip(INSTRUMENTS, table[2:], strict=True):
        assert row.startswith(f"| `{name}` |") and UNVALIDATED in row and INSTRUMENTS[name].citation[:20] in row
    assert "reverse-coded: 2, 4, 6, 8, 10" in table[2 + list(INSTRUMENTS).index("sus")]
