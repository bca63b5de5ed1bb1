"""The instrument library as a Markdown table for the researcher (README, Analysis page): each scale's name
in the study file, items, citation, reproduction basis, translation source and scoring rule."""

from __future__ import annotations

from study_app.study.instruments.library import INSTRUMENTS


def markdown_table(language: str = "de") -> str:
    """One row per instrument; ``language``'s translation source in its own column."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = [f"| `instrument` | Scale | Items | Citation | Reproduction basis | Text ({language}) | Scoring |",
             "|---|---|---|---|---|---|---|"]
    for i in INSTRUMENTS.values():
        reverse = f", reverse-coded: {', '.join(i.reverse_keys)}" if i.reverse_keys else ""
        lines.append(f"| `{i.name}` | {cell(i.title)} | {len(i.items)} ({i.low}-{i.high}{reverse}) | "
                     f"{cell(i.citation)} | {cell(i.licence)} | "
                     f"{cell(i.translations.get(language, 'none'))} | {cell(i.scoring)} |")
    return "\n".join(lines)
