"""The pre-registration as blocks (headings, paragraphs, lists, tables, code), rendered to Markdown and to a
self-contained HTML page. Every value is escaped in HTML (:func:`html.escape`), so a study's own texts (its title,
questions, labels) can never add markup or script to the page; in Markdown, table cells escape ``|`` and
newlines."""

from __future__ import annotations

import html
from dataclasses import dataclass


@dataclass(frozen=True)
class Block:
    """One piece of the document: ``kind`` is ``h1``, ``h2``, ``h3``, ``p``, ``ul``, ``table`` or ``code``;
    ``items`` holds a list's entries, or a table's header followed by its rows (each a tuple of cells)."""

    kind: str
    text: str = ""
    items: tuple = ()


def h(level: int, text: str) -> Block:
    return Block(f"h{level}", text)


def p(text: str) -> Block:
    return Block("p", text)


def ul(items) -> Block:
    return Block("ul", items=tuple(str(i) for i in items))


def table(header, rows) -> Block:
    return Block("table", items=(tuple(str(c) for c in header), *(tuple(str(c) for c in r) for r in rows)))


def code(text: str) -> Block:
    return Block("code", text)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out: list[str] = []
    for b in blocks:
        if b.kind.startswith("h"):
            out.append(f"{'#' * int(b.kind[1])} {b.text.replace(chr(10), ' ')}")
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "ul":
            out.append("\n".join(f"- {item}" for item in b.items) if b.items else "- (none)")
        elif b.kind == "table":
            header, *rows = b.items
            out.append("\n".join([f"| {' | '.join(_cell(c) for c in header)} |", f"|{'---|' * len(header)}",
                                  *(f"| {' | '.join(_cell(c) for c in r)} |" for r in rows)]))
        elif b.kind == "code":
            out.append(f"```\n{b.text}\n```")
    return "\n\n".join(out) + "\n"


STYLE = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
         "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;padding:.25rem .5rem;"
         "vertical-align:top;text-align:left}pre{background:#f4f4f4;padding:.5rem;overflow-x:auto}")


def _html_block(b: Block) -> str:
    e = html.escape
    if b.kind.startswith("h"):
        return f"<{b.kind}>{e(b.text)}</{b.kind}>"
    if b.kind == "p":
        return f"<p>{e(b.text)}</p>"
    if b.kind == "ul":
        return "<ul>" + "".join(f"<li>{e(i)}</li>" for i in (b.items or ("(none)",))) + "</ul>"
    if b.kind == "table":
        header, *rows = b.items
        head = "".join(f"<th>{e(c)}</th>" for c in header)
        body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<pre>{e(b.text)}</pre>"


def to_html(blocks: list[Block], title: str) -> str:
    """A standalone page; no script, no external resource, every value escaped."""
    body = "\n".join(_html_block(b) for b in blocks)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{html.escape(title)}</title>\n'
            f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n")
