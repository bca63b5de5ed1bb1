"""A small client of Prolific's public API (v1, ``https://api.prolific.com/api/v1/``), over urllib.

The endpoints used, as Prolific documents them (docs.prolific.com/api-reference):

* ``GET  /api/v1/studies/{id}/submissions/?page=N&page_size=M``: ``{"results": [...], "_links": {"next":
  {"href": URL or null}, ...}, "meta": {"count": N}}``; a submission has ``id``, ``participant_id``,
  ``status`` (``RESERVED``, ``ACTIVE``, ``TIMED-OUT``, ``AWAITING REVIEW``, ``APPROVED``, ``RETURNED``,
  ``REJECTED``, ``SCREENED OUT``), ``started_at``, ``completed_at``, ``study_code`` (the code entered);
* ``POST /api/v1/submissions/bulk-approve/`` ``{"submission_ids": [...]}`` (asynchronous: "Bulk approve in
  progress");
* ``POST /api/v1/submissions/{id}/transition/`` ``{"action": "REJECT", "message": ... (>= 100 characters),
  "rejection_category": ...}``;
* ``POST /api/v1/submissions/{id}/request-return/`` ``{"request_return_reasons": [...]}``;
* ``POST /api/v1/submissions/bonus-payments/`` ``{"study_id", "csv_bonuses": "<participant_id>,<amount>\\n..."}``
  (201: ``{"id", "total_amount", ...}``, amounts in the study's currency, totals in pence/cents), then
  ``POST /api/v1/bulk-bonus-payments/{id}/pay/`` (202; *not* idempotent: sent once per set-up).

Authentication is the header ``Authorization: Token <token>``. A 429 is retried after ``Retry-After``
seconds (else with exponential back-off, as Prolific asks), at most :data:`MAX_TRIES` times. Every other
failure is a :class:`ProlificError` with one line naming the status and what to do; the token never appears
in a message, a log line or the audit log.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator

API_URL = "https://api.prolific.com"
API_VERSION = "v1"
PAGE_SIZE = 100
BULK_APPROVE_BATCH = 100  # submission ids per bulk-approve request (sent one batch after another)
MAX_TRIES = 5
MAX_WAIT_SECONDS = 60.0
TIMEOUT_SECONDS = 30.0


class ProlificError(RuntimeError):
    """A request Prolific refused or could not answer; the message is one line and never holds the token."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def _detail(body: bytes) -> str:
    """Prolific's error text: ``{"error": {"detail": ...}}`` (or any JSON / text body), shortened."""
    try:
        parsed = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return body.decode("utf-8", "replace").strip()[:200]
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    detail = error.get("detail", error) if isinstance(error, dict) else error
    text = detail if isinstance(detail, str) else json.dumps(detail, ensure_ascii=False)
    return " ".join(text.split())[:200]


def error_for(status: int, what: str, body: bytes = b"") -> ProlificError:
    """The one-line error for an HTTP ``status`` answering ``what`` (e.g. ``GET submissions of study X``)."""
    detail = _detail(body)
    said = f": {detail}" if detail else ""
    if status == 401:
        message = (f"Prolific refused the API token (HTTP 401) for {what}; set a valid one in "
                   "XAI_STUDY_PROLIFIC_TOKEN or prolific_token in .streamlit/secrets.toml")
    elif status == 403:
        message = f"Prolific says this token may not do that (HTTP 403) for {what}{said}"
    elif status == 404:
        message = f"Prolific has no such resource (HTTP 404) for {what}; check recruitment.prolific_study_id{said}"
    elif status == 429:
        message = f"Prolific is rate limiting this workspace (HTTP 429) for {what}; gave up after {MAX_TRIES} tries, try later"
    elif status >= 500:
        message = f"Prolific's server failed (HTTP {status}) for {what}; nothing more was sent, try again later"
    else:
        message = f"Prolific refused {what} (HTTP {status}){said}"
    return ProlificError(message, status)


def _retry_after(value: str | None, attempt: int) -> float:
    """Seconds to wait before retrying a 429: its ``Retry-After`` (seconds), else 1, 2, 4, ... (capped)."""
    try:
        seconds = float(value) if value is not None else 2.0 ** attempt
    except ValueError:
        seconds = 2.0 ** attempt
    return max(0.0, min(seconds, MAX_WAIT_SECONDS))


class ProlificClient:
    """Prolific's API with one token.

    Args:
        token: The API token (from :func:`study_app.settings.resolve.resolve_prolific_token`); kept only here.
        base_url: ``https://api.prolific.com`` (the tests' stand-in serves the same paths).
        sleep: How to wait before a retry (tests count the waits).
    """

    def __init__(self, token: str, base_url: str = API_URL, *, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = TIMEOUT_SECONDS):
        if not token or not token.strip():
            raise ProlificError("no Prolific API token: set XAI_STUDY_PROLIFIC_TOKEN or prolific_token in "
                                ".streamlit/secrets.toml")
        self._token = token.strip()
        self.base_url = base_url.rstrip("/")
        self.sleep = sleep
        self.timeout = timeout
        self.requests_sent = 0

    def __repr__(self) -> str:  # never the token
        return f"ProlificClient({self.base_url!r})"

    # ---- transport -------------------------------------------------------------------------------------

    def request(self, method: str, path_or_url: str, body: dict | None = None, *, what: str) -> object:
        """One request (retried on 429); the decoded JSON answer (``None`` for an empty body)."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else f"{self.base_url}{path_or_url}"
        data = None if body is None else json.dumps(body).encode("utf-8")
        for attempt in range(MAX_TRIES):
            req = urllib.request.Request(url, data=data, method=method, headers={  # noqa: S310 - http(s) only
                "Authorization": f"Token {self._token}", "Accept": "application/json",
                **({"Content-Type": "application/json"} if data is not None else {})})
            self.requests_sent += 1
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as response:  # noqa: S310
                    raw = response.read()
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                if exc.code == 429 and attempt + 1 < MAX_TRIES:
                    self.sleep(_retry_after(exc.headers.get("Retry-After"), attempt))
                    continue
                raise error_for(exc.code, what, raw) from None
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise ProlificError(f"cannot reach Prolific at {self.base_url} for {what}: {reason}") from None
            if not raw.strip():
                return None
            try:
                return json.loads(raw.decode("utf-8"))
            except ValueError:
                return raw.decode("utf-8", "replace")
        raise error_for(429, what)  # not reached: the last try raises

    # ---- endpoints ---------------------------------------------------------------------------------------

    def submissions(self, study_id: str) -> Iterator[dict]:
        """Every submission of the Prolific study, page after page (``_links.next.href``)."""
        quoted = urllib.parse.quote(study_id, safe="")
        url: str | None = f"/api/{API_VERSION}/studies/{quoted}/submissions/?page=1&page_size={PAGE_SIZE}"
        seen: set[str] = set()
        while url:
            page = self.request("GET", url, what=f"the submissions of Prolific study {study_id}")
            if not isinstance(page, dict) or not isinstance(page.get("results"), list):
                raise ProlificError(f"Prolific's answer listing study {study_id}'s submissions has no results list")
            yield from page["results"]
            seen.add(url)
            nxt = ((page.get("_links") or {}).get("next") or {}).get("href")
            url = nxt if nxt and nxt not in seen else None

    def bulk_approve(self, submission_ids: Iterable[str]) -> int:
        """Approve these submissions (in batches of :data:`BULK_APPROVE_BATCH`); returns how many were sent."""
        ids = list(submission_ids)
        for start in range(0, len(ids), BULK_APPROVE_BATCH):
            batch = ids[start:start + BULK_APPROVE_BATCH]
            self.request("POST", f"/api/{API_VERSION}/submissions/bulk-approve/", {"submission_ids": batch},
                         what=f"approving {len(batch)} submissions")
        return len(ids)

    def reject(self, submission_id: str, message: str, category: str) -> dict:
        return self.request("POST", f"/api/{API_VERSION}/submissions/{urllib.parse.quote(submission_id, safe='')}"
                            "/transition/", {"action": "REJECT", "message": message, "rejection_category": category},
                            what=f"rejecting submission {submission_id}")

    def request_return(self, submission_id: str, reasons: list[str]) -> dict:
        return self.request("POST", f"/api/{API_VERSION}/submissions/{urllib.parse.quote(submission_id, safe='')}"
                            "/request-return/", {"request_return_reasons": reasons},
                            what=f"asking the participant of submission {submission_id} to return it")

    def set_up_bonuses(self, study_id: str, amounts: dict[str, float]) -> dict:
        """Set up one bulk bonus payment (``{participant id: amount in the study's currency}``); pays nothing."""
        csv = "".join(f"{pid},{amount:.2f}\n" for pid, amount in amounts.items())
        answer = self.request("POST", f"/api/{API_VERSION}/submissions/bonus-payments/",
                              {"study_id": study_id, "csv_bonuses": csv}, what=f"setting up {len(amounts)} bonuses")
        if not isinstance(answer, dict) or not answer.get("id"):
            raise ProlificError("Prolific's answer setting up the bonuses names no bulk bonus payment id")
        return answer

    def pay_bonuses(self, bulk_id: str) -> None:
        """Pay a bulk bonus payment set up before (not idempotent: call once per set-up)."""
        self.request("POST", f"/api/{API_VERSION}/bulk-bonus-payments/{urllib.parse.quote(bulk_id, safe='')}/pay/",
                     what=f"paying bulk bonus payment {bulk_id}")
