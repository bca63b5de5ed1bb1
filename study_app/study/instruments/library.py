"""The validated scales a study file can name (``instrument = "jian_trust"``), as published.

Item texts are the published English wording, marked with ``N_`` so that the catalogues carry them (the
German texts are in ``study_app/i18n/locales/de``; where each comes from is in ``translations``). Citation,
reproduction basis and scoring rule are kept with each scale and shown to the researcher (README, export
notes). Left out for want of a reproduction basis we could state: propensity to trust (Merritt et al. 2013,
Human Factors 55(3); items in a SAGE article without a reuse licence) and the need-for-cognition short forms
(Cacioppo, Petty & Kao 1984, APA copyright; Beißert et al. 2014's German NFC-K, whose reuse terms we could
not confirm).
"""

from __future__ import annotations

from study_app.i18n import N_
from study_app.study.instruments.model import (
    AFTER_TRIALS,
    PER_ARM,
    SUM_X2_5,
    TIMES_5,
    UNVALIDATED,
    Instrument,
    Item,
    Subscale,
)

JIAN_TRUST = Instrument(
    name="jian_trust",
    title="Trust in automated systems (Jian, Bisantz & Drury 2000)",
    items=(
        Item("1", N_("The system is deceptive."), reverse=True),
        Item("2", N_("The system behaves in an underhanded manner."), reverse=True),
        Item("3", N_("I am suspicious of the system's intent, action, or outputs."), reverse=True),
        Item("4", N_("I am wary of the system."), reverse=True),
        Item("5", N_("The system's actions will have a harmful or injurious outcome."), reverse=True),
        Item("6", N_("I am confident in the system.")),
        Item("7", N_("The system provides security.")),
        Item("8", N_("The system has integrity.")),
        Item("9", N_("The system is dependable.")),
        Item("10", N_("The system is reliable.")),
        Item("11", N_("I can trust the system.")),
        Item("12", N_("I am familiar with the system.")),
    ),
    low=1, high=7,
    anchors=(N_("Not at all"), N_("Extremely")),
    subscales=(
        Subscale("trust", tuple(str(k) for k in range(6, 13)),
                 note="mean of items 6-12 (1-7); higher = more trust"),
        Subscale("distrust", tuple(str(k) for k in range(1, 6)),
                 note="mean of items 1-5 (1-7); higher = more distrust"),
        Subscale("overall", tuple(str(k) for k in range(1, 13)), reverses=True,
                 note="single-score convention: items 1-5 reversed (8 - x), mean of all 12; Spain, Bustamante "
                      "& Bliss (2008) found trust and distrust to be separate factors, so report them apart"),
    ),
    placements=(AFTER_TRIALS, PER_ARM),
    citation="Jian, J.-Y., Bisantz, A. M., & Drury, C. G. (2000). Foundations for an empirically determined "
             "scale of trust in automated systems. International Journal of Cognitive Ergonomics, 4(1), 53-71. "
             "doi:10.1207/S15327566IJCE0401_04. Two factors: Spain, R. D., Bustamante, E. A., & Bliss, J. P. "
             "(2008). Towards an empirically developed scale for system trust: Take two. Proc. HFES 52(19), "
             "1335-1339.",
    licence="No licence is attached to the scale: the items are printed in full in the article for "
            "researchers to use and are reproduced verbatim throughout the trust-in-automation literature. "
            "Reproduced here verbatim for non-commercial research with the citation; cite Jian et al. (2000).",
    translations={"en": "published English wording", "de": UNVALIDATED + " (a German version was studied by "
                  "Pöhler, Heine & Deml 2016, Zeitschrift für Arbeitswissenschaft 70(3); its wording is not "
                  "reproduced here)"},
    scoring="7-point (1 = not at all, 7 = extremely); trust = mean of items 6-12, distrust = mean of items "
            "1-5, scored apart; overall (items 1-5 reversed, mean of 12) only for comparison with older work",
)

SUS = Instrument(
    name="sus",
    title="System Usability Scale (Brooke 1996)",
    items=(
        Item("1", N_("I think that I would like to use this system frequently.")),
        Item("2", N_("I found the system unnecessarily complex."), reverse=True),
        Item("3", N_("I thought the system was easy to use.")),
        Item("4", N_("I think that I would need the support of a technical person to be able to use this "
                     "system."), reverse=True),
        Item("5", N_("I found the various functions in this system were well integrated.")),
        Item("6", N_("I thought there was too much inconsistency in this system."), reverse=True),
        Item("7", N_("I would imagine that most people would learn to use this system very quickly.")),
        Item("8", N_("I found the system very cumbersome to use."), reverse=True),
        Item("9", N_("I felt very confident using the system.")),
        Item("10", N_("I needed to learn a lot of things before I could get going with this system."),
             reverse=True),
    ),
    low=1, high=5,
    anchors=(N_("Strongly disagree"), N_("Strongly agree")),
    subscales=(Subscale("sus", tuple(str(k) for k in range(1, 11)), rule=SUM_X2_5, reverses=True,
                        note="0-100: odd items x - 1, even items 5 - x, summed, times 2.5 (Brooke 1996)"),),
    placements=(AFTER_TRIALS, PER_ARM),
    citation="Brooke, J. (1996). SUS: A 'quick and dirty' usability scale. In P. W. Jordan, B. Thomas, "
             "B. A. Weerdmeester & I. L. McClelland (Eds.), Usability Evaluation in Industry (pp. 189-194). "
             "London: Taylor & Francis.",
    licence="Brooke (1996) made SUS freely available for use; the only prerequisite is that any published "
            "report acknowledges the source (restated in Brooke 2013, Journal of Usability Studies 8(2)).",
    translations={"en": "published English wording", "de": UNVALIDATED},
    scoring="5-point (1 = strongly disagree, 5 = strongly agree); SUS = 2.5 x [sum over odd items of (x - 1) "
            "+ sum over even items of (5 - x)], 0-100. Brooke asks respondents to tick the centre for an item "
            "they cannot answer; the app requires every item instead, and a missing item makes the score NaN",
)

_TLX_GRADATIONS = "21 gradations, stored 0-20 and scored x 5 -> 0-100"
NASA_TLX = Instrument(
    name="nasa_tlx",
    title="NASA Task Load Index, raw (Hart & Staveland 1988; Hart 2006)",
    items=(
        Item("mental", N_("Mental demand: How mentally demanding was the task?")),
        Item("physical", N_("Physical demand: How physically demanding was the task?")),
        Item("temporal", N_("Temporal demand: How hurried or rushed was the pace of the task?")),
        Item("performance", N_("Performance: How successful were you in accomplishing what you were asked to "
                               "do?"), anchors=(N_("Perfect"), N_("Failure"))),
        Item("effort", N_("Effort: How hard did you have to work to accomplish your level of performance?")),
        Item("frustration", N_("Frustration: How insecure, discouraged, irritated, stressed, and annoyed were "
                               "you?")),
    ),
    low=0, high=20,
    anchors=(N_("Very low"), N_("Very high")),
    subscales=(
        *(Subscale(k, (k,), rule=TIMES_5, note=f"one scale, {_TLX_GRADATIONS}")
          for k in ("mental", "physical", "temporal", "performance", "effort", "frustration")),
        Subscale("raw_tlx", ("mental", "physical", "temporal", "performance", "effort", "frustration"),
                 rule=TIMES_5, note="raw TLX: unweighted mean of the six 0-100 scales (Hart 2006); "
                                    "performance runs from perfect (0) to failure (100), so none is reversed"),
    ),
    placements=(AFTER_TRIALS, PER_ARM),
    citation="Hart, S. G., & Staveland, L. E. (1988). Development of NASA-TLX (Task Load Index): Results of "
             "empirical and theoretical research. In P. A. Hancock & N. Meshkati (Eds.), Human Mental Workload "
             "(pp. 139-183). North-Holland. Raw TLX: Hart, S. G. (2006). NASA-Task Load Index (NASA-TLX); 20 "
             "years later. Proc. HFES 50(9), 904-908.",
    licence="Developed at NASA Ames Research Center (a US government work); NASA distributes the rating "
            "scales and the paper-and-pencil form free of charge for use. Cite Hart & Staveland (1988).",
    translations={"en": "published English wording (NASA's paper-and-pencil form)", "de": UNVALIDATED},
    scoring="six scales with 21 gradations (stored 0-20, x 5 -> 0-100; 'very low' to 'very high', "
            "performance 'perfect' to 'failure'); raw TLX = unweighted mean of the six (no pairwise weights)",
)

_HOFFMAN_AGREE = (N_("I disagree strongly"), N_("I disagree somewhat"), N_("I'm neutral about it"),
                  N_("I agree somewhat"), N_("I agree strongly"))
HOFFMAN_SATISFACTION = Instrument(
    name="hoffman_satisfaction",
    title="Explanation Satisfaction Scale (Hoffman, Mueller, Klein & Litman 2018/2023)",
    items=(
        Item("1", N_("From the explanation, I understand how the AI works.")),
        Item("2", N_("This explanation of how the AI works is satisfying.")),
        Item("3", N_("This explanation of how the AI works has sufficient detail.")),
        Item("4", N_("This explanation of how the AI works seems complete.")),
        Item("5", N_("This explanation of how the AI works tells me how to use it.")),
        Item("6", N_("This explanation of how the AI works is useful to my goals.")),
        Item("7", N_("This explanation of the AI shows me how accurate the AI is.")),
        Item("8", N_("This explanation lets me judge when I should trust and not trust the AI.")),
    ),
    low=1, high=5,
    anchors=_HOFFMAN_AGREE,
    subscales=(Subscale("satisfaction", tuple(str(k) for k in range(1, 9)),
                        note="mean of the 8 items (1-5); no item is reverse-coded"),),
    placements=(AFTER_TRIALS, PER_ARM),
    citation="Hoffman, R. R., Mueller, S. T., Klein, G., & Litman, J. (2018). Metrics for explainable AI: "
             "Challenges and prospects. arXiv:1812.04608. Hoffman, R. R., Mueller, S. T., Klein, G., & Litman, "
             "J. (2023). Measures for explainable AI: Explanation goodness, user satisfaction, mental models, "
             "curiosity, trust, and human-AI performance. Frontiers in Computer Science, 5, 1096257. "
             "doi:10.3389/fcomp.2023.1096257.",
    licence="Printed in Hoffman et al. (2023), an open-access article under CC BY 4.0: reuse with attribution. "
            "The published items leave '[software, algorithm, tool]' to be filled in; here it reads 'the AI'.",
    translations={"en": "published English wording, '[software, algorithm, tool]' filled in as 'the AI'",
                  "de": UNVALIDATED},
    scoring="5-point (1 = I disagree strongly ... 5 = I agree strongly); satisfaction = mean of the 8 items",
)

HOFFMAN_TRUST = Instrument(
    name="hoffman_trust",
    title="Trust Scale for XAI (Hoffman, Mueller, Klein & Litman 2018/2023)",
    items=(
        Item("1", N_("I am confident in the AI. I feel that it works well.")),
        Item("2", N_("The outputs of the AI are very predictable.")),
        Item("3", N_("The AI is very reliable. I can count on it to be correct all the time.")),
        Item("4", N_("I feel safe that when I rely on the AI I will get the right answers.")),
        Item("5", N_("The AI is efficient in that it works very quickly.")),
        Item("6", N_("I am wary of the AI."), reverse=True),
        Item("7", N_("The AI can perform the task better than a novice human user.")),
        Item("8", N_("I like using the AI for decision making.")),
    ),
    low=1, high=5,
    anchors=_HOFFMAN_AGREE,
    subscales=(Subscale("trust", tuple(str(k) for k in range(1, 9)), reverses=True,
                        note="mean of the 8 items (1-5), item 6 ('wary') reversed (6 - x); higher = more trust"),),
    placements=(AFTER_TRIALS, PER_ARM),
    citation=HOFFMAN_SATISFACTION.citation + " Psychometric evaluation: Scharowski, N., Perrig, S. A. C., "
             "Aeschbach, L. F., von Felten, N., Opwis, K., Wintersberger, P., & Brühlmann, F. (2024). To trust or "
             "distrust trust measures: Validating questionnaires for trust in AI. arXiv:2403.00582.",
    licence=HOFFMAN_SATISFACTION.licence + " The item wording here could not be checked against the article "
            "itself: it is the wording that several independent reproductions of the scale agree on.",
    translations={"en": "published English wording as reproduced by later studies (not checked against the "
                        "article), '[tool]' filled in as 'the AI'", "de": UNVALIDATED},
    scoring="5-point (1 = I disagree strongly ... 5 = I agree strongly); trust = mean of the 8 items with item 6 "
            "('I am wary of ...') reversed (6 - x). The authors publish the items, not a scoring rule: the mean "
            "with the one negatively worded item reversed is the convention of the studies that use it",
)

INSTRUMENTS: dict[str, Instrument] = {i.name: i for i in (JIAN_TRUST, SUS, NASA_TLX, HOFFMAN_SATISFACTION,
                                                          HOFFMAN_TRUST)}
