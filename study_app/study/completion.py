"""How a participant leaves the study: the recruitment site's code for their outcome and the way back.

Prolific gives a study one completion code per outcome: *completed*, *screened out* and *no consent*. The
study file names them (``completion_code``, ``screened_out_code``, ``no_consent_code``) and one
``redirect_url``, which carries the code either as a ``{code}`` placeholder or as Prolific's own
``cc=`` parameter; each outcome's address is that URL with the outcome's code. An outcome without a code
gets no address: sending a screened-out participant back with the completion code would pay them as
complete. :func:`redirect_warnings` is what ``xai-study check`` says about the URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

COMPLETED, SCREENED_OUT, NO_CONSENT = "completed", "screened_out", "no_consent"
OUTCOMES = (COMPLETED, SCREENED_OUT, NO_CONSENT)
CODE_PLACEHOLDER = "{code}"
CODE_PARAM = "cc"  # Prolific's completion-code parameter
PROLIFIC_HOST = "app.prolific.com"
OLD_PROLIFIC_HOSTS = ("prolific.co", "www.prolific.co", "app.prolific.co", "prolific.ac", "www.prolific.ac")


def outcome_code(study, outcome: str) -> str | None:
    """The study's code for ``outcome`` (``None`` where the study file gives none)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; one of {', '.join(OUTCOMES)}")
    return {COMPLETED: study.completion_code, SCREENED_OUT: study.screened_out_code,
            NO_CONSENT: study.no_consent_code}[outcome]


def return_url(study, outcome: str) -> str | None:
    """Where a participant with ``outcome`` goes back to: ``redirect_url`` carrying that outcome's code."""
    code = outcome_code(study, outcome)
    if not study.redirect_url or not code:
        return None
    return with_code(study.redirect_url, code)


def with_code(url: str, code: str) -> str:
    """``url`` with ``code`` in its ``{code}`` placeholder, else in its ``cc=`` parameter, else as it is."""
    if CODE_PLACEHOLDER in url:
        return url.replace(CODE_PLACEHOLDER, code)
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == CODE_PARAM for k, _ in query):
        query = [(k, code if k == CODE_PARAM else v) for k, v in query]
        return urlunsplit(parts._replace(query=urlencode(query)))
    return url


def redirect_warnings(study) -> list[str]:
    """What a researcher should fix in ``redirect_url`` before launch (empty when nothing)."""
    url = study.redirect_url
    if not url:
        return []
    problems = []
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    codes = dict(parse_qsl(parts.query, keep_blank_values=True))
    if host in OLD_PROLIFIC_HOSTS:
        problems.append(f"redirect_url uses the old Prolific address {host}; use https://{PROLIFIC_HOST}"
                        "/submissions/complete?cc={code}")
    if CODE_PLACEHOLDER not in url and CODE_PARAM not in codes:
        problems.append("redirect_url does not carry the completion code: add ?cc={code} (filled in per "
                        "outcome) so the recruitment site knows who finished")
    elif CODE_PARAM in codes and CODE_PLACEHOLDER not in url and codes[CODE_PARAM] != study.completion_code:
        problems.append(f"redirect_url's cc={codes[CODE_PARAM]} is not the completion_code "
                        f"{study.completion_code}; write cc={{code}} to have it filled in")
    if parts.scheme != "https" and host not in ("localhost", "127.0.0.1", "::1"):
        problems.append("redirect_url is not https://")
    return problems
