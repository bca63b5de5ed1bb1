"""How a participant leaves the study: the recruitment site's code for their outcome and the way back.

Prolific gives a study one completion code per outcome: *completed*, *screened out* and *no consent*. The
study file names them (``completion_code``, ``screened_out_code``, ``no_consent_code``) and one
``redirect_url``, which carries the code either as a ``{code}`` placeholder or as Prolific's own
``cc=`` parameter; each outcome's address is that URL with the outcome's code. An outcome without a code
gets no address: sending a screened-out participant back with the completion code would pay them as
complete. The code is URL-encoded into the address. :func:`redirect_problems` (failures) and
:func:`redirect_warnings` are what ``xai-study check`` says about the URL.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

COMPLETED, SCREENED_OUT, NO_CONSENT = "completed", "screened_out", "no_consent"
OUTCOMES = (COMPLETED, SCREENED_OUT, NO_CONSENT)
CODE_PLACEHOLDER = "{code}"
CODE_PARAM = "cc"  # Prolific's completion-code parameter
PROLIFIC_HOST = "app.prolific.com"
OLD_PROLIFIC_HOSTS = ("prolific.co", "www.prolific.co", "app.prolific.co", "prolific.ac", "www.prolific.ac")
PROLIFIC_DOMAINS = ("prolific.com", "prolific.co", "prolific.ac")
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")


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
    """``url`` with ``code`` URL-encoded into its ``{code}`` placeholder, else into its ``cc=`` parameter, else
    ``url`` as it is. Encoded, a code such as ``AB CD#1&x=2`` arrives whole (unencoded, the browser sent
    ``cc=AB%20CD`` and took the rest for a fragment)."""
    if CODE_PLACEHOLDER in url:
        return url.replace(CODE_PLACEHOLDER, quote(code, safe=""))
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(k == CODE_PARAM for k, _ in query):
        query = [(k, code if k == CODE_PARAM else v) for k, v in query]
        return urlunsplit(parts._replace(query=urlencode(query)))
    return url


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def expects_prolific_id(study) -> bool:
    """Whether participants should arrive with a ``PROLIFIC_PID``: the study requires one, or returns them to
    Prolific (a participant sent back there without one cannot be matched to a submission)."""
    host = _host(study.redirect_url or "")
    return bool(study.require_prolific_id or any(host == d or host.endswith(f".{d}") for d in PROLIFIC_DOMAINS))


def redirect_problems(study) -> list[str]:
    """Why ``redirect_url`` cannot return a participant with their code (empty when it can, or is not set):
    each names the field. ``xai-study check`` fails on these."""
    url = study.redirect_url
    if not url:
        return []
    field_name = "study.redirect_url"
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError as exc:
        return [f"{field_name}: not a usable URL ({exc})"]
    problems = []
    if not host:
        problems.append(f"{field_name}: {url!r} names no host; use https://{PROLIFIC_HOST}"
                        "/submissions/complete?cc={code}")
    if parts.scheme != "https" and host not in LOCAL_HOSTS:
        problems.append(f"{field_name}: must use https:// (plain http only for a local test address)")
    if CODE_PLACEHOLDER not in url and not any(k == CODE_PARAM for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
        problems.append(f"{field_name}: carries no code; add {CODE_PLACEHOLDER} or ?{CODE_PARAM}=... (each "
                        "outcome's code is filled in) so the recruitment site knows who finished")
    return problems


def redirect_warnings(study) -> list[str]:
    """What a researcher should still fix in ``redirect_url`` though it works (empty when nothing)."""
    host = _host(study.redirect_url or "")
    if host in OLD_PROLIFIC_HOSTS:
        return [f"study.redirect_url uses the old Prolific address {host}; use https://{PROLIFIC_HOST}"
                "/submissions/complete?cc={code}"]
    return []
