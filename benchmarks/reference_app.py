"""The reference for ``benchmarks/click_cost.py``: what Streamlit itself costs per participant click.

    streamlit run benchmarks/reference_app.py

The same kinds of screens as the bundled demo, in the same order and with the same widgets and pictures
(consent, a questionnaire of radios, instructions with two pictures, four trust screens with one picture,
four explanation screens with the picture and three maps plus a comment box, four verification screens
with a picture and a map, seven decision screens (four trials: one answered once without advice, three
answered first alone and then with the AI's advice, two of those with a map), a closing questionnaire with
radios, three selectboxes and a text box, the completion code), with the same frame around them (a
multipage router with a hidden second page, a small withdrawal button under every screen between consent
and the end, an invisible chunk-recovery component on every page, and in each trial's form a browser
component that counts page hiding and focus loss), but it computes nothing: the pictures are the demo's own images, encoded once per process, and a click only moves
a counter in the session. Run from the project root, it reads the project's ``.streamlit/config.toml``
exactly as the study app does.
"""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
STIMULI = ROOT / "demo" / "stimuli"
SIDE = 360  # px on screen, as the study app's pictures
SCALE = [1, 2, 3, 4, 5]
CLASSES = ["glioma", "meningioma", "no tumour", "pituitary"]
EFFECTS = ["It helped me understand", "No effect", "It confused me"]


@st.cache_resource
def pictures() -> list[bytes]:
    """Eight of the demo's images as PNGs at display size (once per process, like a warm map cache)."""
    files = sorted(p for p in STIMULI.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:8]
    out = []
    for path in files:
        buffer = io.BytesIO()
        Image.open(path).convert("RGB").resize((SIDE, SIDE)).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def screens() -> list[tuple[str, int]]:
    """(kind, image number) in the demo's order."""
    out = [("consent", 0), ("questionnaire", 0), ("instructions", 0)]
    for k in range(4):
        out += [("trust", k), ("explanation", k)]
    out += [("verification", 4 + k) for k in range(4)]
    out += [("decision_alone", 0)]
    for k, advice in enumerate(("decision_ai", "decision_map", "decision_map")):
        out += [("decision_initial", 1 + k), (advice, 1 + k)]
    return out + [("post", 0), ("done", 0)]


# The study's own page-signals script (one file, read by both apps), drawn in each trial form.
_SIGNALS_JS = (ROOT / "study_app" / "ui" / "page_signals.js").read_text(encoding="utf-8")
_signals = st.components.v2.component("reference.page_signals", js=_SIGNALS_JS)
_recovery = st.components.v2.component(
    "reference.chunk_recovery", js=(ROOT / "study_app" / "ui" / "chunk_recovery.js").read_text(encoding="utf-8"))
TRIALS = ("trust", "explanation", "verification")


def radios(label: str, options: list, key: str, horizontal: bool = True) -> None:
    st.radio(label, options, index=None, horizontal=horizontal, key=key)


def advance() -> None:
    """Runs before the script (Streamlit's callback order), so one script run draws the next screen."""
    st.session_state["screen"] += 1


def draw(kind: str, k: int, n: int, pics: list[bytes]) -> None:
    if kind == "consent":
        st.title("Reference study")
        st.markdown("A consent text. " * 40)
        with st.form(f"f{n}", border=False):
            st.form_submit_button("I agree — start the study", type="primary", on_click=advance)
        return
    st.progress(n / 24, text=f"Progress: step {n} of 24")
    with st.form(f"f{n}"):
        if kind in TRIALS or kind.startswith("decision"):
            _signals(key=f"s{n}", on_signals_change=lambda: None)
        if kind == "questionnaire":
            st.header("A few questions about you")
            for q in range(4):
                radios(f"Question {q + 1}", ["A", "B", "C", "D"], f"q{n}_{q}")
        elif kind == "instructions":
            st.header("Instructions")
            st.markdown("How this works. " * 60)
            left, right = st.columns(2)
            left.image(pics[0], caption="The image", output_format="PNG")
            right.image(pics[1], caption="A map", output_format="PNG")
        elif kind in TRIALS:
            st.subheader(f"Image {k + 1} of 8")
            st.markdown("The model's top predictions:\n\n1. **cat** — 91%\n2. **dog** — 9%")
            if kind == "trust":
                st.image(pics[k], width=SIDE, output_format="PNG")
                radios("Do you trust this prediction?", SCALE, f"t{n}")
            elif kind == "explanation":
                st.image(pics[k], width=SIDE, output_format="PNG")
                for col, m in zip(st.columns(3), range(3), strict=True):
                    col.markdown(f"**Method {m + 1}**")
                    col.image(pics[(k + m + 1) % len(pics)], output_format="PNG")
                for m in range(3):
                    radios(f"Method {m + 1}: did this help?", EFFECTS, f"e{n}_{m}")
                st.text_area("Comment (optional)", key=f"c{n}", height=80)
            else:
                st.warning("Research only: not a medical device.")
                left, right = st.columns(2)
                left.image(pics[k % len(pics)], output_format="PNG")
                right.image(pics[(k + 1) % len(pics)], output_format="PNG")
                radios("Is the model's prediction correct?", ["Yes", "No"], f"d{n}", horizontal=False)
                radios("How confident are you?", SCALE, f"v{n}")
        elif kind.startswith("decision"):
            st.subheader(f"Image {k + 1} of 4")
            st.warning("Research only: not a medical device.")
            if kind == "decision_map":
                left, right = st.columns(2)
                left.image(pics[k], output_format="PNG")
                right.image(pics[(k + 1) % len(pics)], output_format="PNG")
                st.caption("Bright marks what counted most.")
            else:
                st.image(pics[k], width=SIDE, output_format="PNG")
            if kind in ("decision_ai", "decision_map"):
                st.markdown("The model predicts **glioma** (91% sure).")
            radios("What does the image show?", CLASSES, f"a{n}", horizontal=False)
            radios("How confident are you?", SCALE, f"k{n}")
            st.caption("1 = guessing, 5 = certain")
        else:  # post
            st.header("Your overall impressions")
            radios("How did the explanations change your trust?", ["Less", "Same", "More"], f"p{n}")
            for place in ("1st", "2nd", "3rd"):
                st.selectbox(f"{place} place", ["Method 1", "Method 2", "Method 3"], index=None, key=f"r{place}")
            st.text_area("Any final comments? (optional)", key=f"pc{n}")
        st.form_submit_button("Continue", type="primary", on_click=advance)


def study_page() -> None:
    order = screens()
    n = st.session_state.setdefault("screen", 0)
    kind, k = order[n]
    if kind == "done":
        st.title("Thank you!")
        st.code("REFERENCE", language=None)
        return
    draw(kind, k, n, pictures())
    if kind != "consent":
        st.button("Withdraw from the study", key="withdraw_open", type="tertiary", icon=":material/logout:")


def researcher_page() -> None:
    st.title("Researcher")


st.set_page_config(page_title="Reference", layout="centered")
_recovery(key="chunk_recovery")  # the study's chunk-recovery script, drawn on every page as main.py does
pages = [st.Page(study_page, title="Study", url_path="study", default=True),
         st.Page(researcher_page, title="Researcher", url_path="researcher")]
st.navigation(pages, position="hidden").run()
