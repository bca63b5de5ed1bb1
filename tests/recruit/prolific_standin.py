"""A local stand-in for the Prolific API v1 endpoints ``xai-study prolific`` uses, served over real HTTP.

It follows Prolific's documented shapes (docs.prolific.com/api-reference): ``Authorization: Token <token>``
(401 otherwise), list study submissions paginated by ``page``/``page_size`` with ``_links.next.href`` and
``meta.count``, bulk approve by submission ids, transition REJECT (message of at least 100 characters and a
rejection category, only from AWAITING REVIEW), request-return, bonus set-up from ``csv_bonuses`` (400 naming
ids that did not take part) and pay (not idempotent), errors as ``{"error": {"detail": ...}}``. Tests can
make a path answer 429 with ``Retry-After`` a number of times, or fail with any status.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MIN_MESSAGE = 100
CATEGORIES = {"TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK", "LOW_EFFORT",
              "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER"}


@dataclass
class StandIn:
    token: str
    submissions: dict[str, list[dict]] = field(default_factory=dict)  # study id -> submissions
    requests: list[tuple[str, str, dict | None, dict]] = field(default_factory=list)  # method, path, body, headers
    rate_limit: dict[str, tuple[int, str | None]] = field(default_factory=dict)  # path prefix -> (times, Retry-After)
    failures: dict[str, int] = field(default_factory=dict)  # path prefix -> HTTP status
    bulk_bonuses: dict[str, dict] = field(default_factory=dict)
    paid: list[tuple[str, float]] = field(default_factory=list)  # (participant id, amount) per payment made
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, study_id: str, participant_id: str, status: str = "AWAITING REVIEW",
            study_code: str | None = None) -> dict:
        sub = {"id": uuid.uuid4().hex[:24], "participant_id": participant_id, "status": status,
               "started_at": "2026-12-01T10:00:00Z", "completed_at": None, "has_siblings": False,
               "study_code": study_code, "return_requested": None, "bonus_payments": []}
        self.submissions.setdefault(study_id, []).append(sub)
        return sub

    def find(self, submission_id: str) -> dict | None:
        return next((s for subs in self.submissions.values() for s in subs if s["id"] == submission_id), None)

    def posts(self, prefix: str = "") -> list[tuple[str, dict | None]]:
        return [(p, b) for m, p, b, _ in self.requests if m == "POST" and p.startswith(prefix)]


def _handler(state: StandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body, headers: dict | None = None) -> None:
            raw = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(raw)

        def _error(self, status: int, detail, headers: dict | None = None) -> None:
            self._send(status, {"error": {"error_code": status, "title": "Error", "detail": detail}}, headers)

        def _handle(self, method: str) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            with state.lock:
                state.requests.append((method, self.path, body, dict(self.headers)))
                for prefix, (times, after) in list(state.rate_limit.items()):
                    if parts.path.startswith(prefix) and times > 0:
                        state.rate_limit[prefix] = (times - 1, after)
                        return self._error(429, "Request was throttled.", {"Retry-After": after} if after else {})
                for prefix, status in state.failures.items():
                    if parts.path.startswith(prefix):
                        return self._error(status, "Something went wrong.")
                if self.headers.get("Authorization") != f"Token {state.token}":
                    return self._error(401, "Invalid token.")
                return self._route(method, parts, body)

        def _route(self, method, parts, body) -> None:
            path = parts.path
            if method == "GET" and (m := re.fullmatch(r"/api/v1/studies/([^/]+)/submissions/", path)):
                return self._list(m.group(1), parse_qs(parts.query), parts)
            if method == "POST" and path == "/api/v1/submissions/bulk-approve/":
                ids = (body or {}).get("submission_ids")
                if not isinstance(ids, list) or not ids:
                    return self._error(400, {"submission_ids": ["This field is required."]})
                for sid in ids:
                    sub = state.find(sid)
                    if sub is not None and sub["status"] == "AWAITING REVIEW":
                        sub["status"] = "APPROVED"
                return self._send(200, "Bulk approve in progress")
            if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/([^/]+)/transition/", path)):
                return self._transition(m.group(1), body or {})
            if method == "POST" and (m := re.fullmatch(r"/api/v1/submissions/([^/]+)/request-return/", path)):
                sub = state.find(m.group(1))
                if sub is None:
                    return self._error(404, "Not found.")
                if not (body or {}).get("request_return_reasons"):
                    return self._error(400, {"request_return_reasons": ["This field is required."]})
                sub["return_requested"] = "2026-12-02T10:00:00Z"
                return self._send(200, _detail(sub))
            if method == "POST" and path == "/api/v1/submissions/bonus-payments/":
                return self._set_up_bonus(body or {})
            if method == "POST" and (m := re.fullmatch(r"/api/v1/bulk-bonus-payments/([^/]+)/pay/", path)):
                bulk = state.bulk_bonuses.get(m.group(1))
                if bulk is None:
                    return self._error(404, "Not found.")
                for pid, amount in bulk["rows"]:  # not idempotent: every call pays again
                    state.paid.append((pid, amount))
                    for sub in state.submissions[bulk["study"]]:
                        if sub["participant_id"] == pid:
                            sub["bonus_payments"].append(round(amount * 100))
                return self._send(202, None)
            return self._error(404, "Not found.")

        def _list(self, study_id, query, parts) -> None:
            if study_id not in state.submissions:
                return self._error(404, "Study not found.")
            page = int(query.get("page", ["1"])[0])
            size = int(query.get("page_size", ["20"])[0])
            subs = state.submissions[study_id]
            chunk = subs[(page - 1) * size: page * size]
            base = f"http://{self.headers['Host']}{parts.path}"
            more = page * size < len(subs)
            self._send(200, {
                "results": [{k: s[k] for k in ("id", "participant_id", "status", "started_at", "completed_at",
                                               "has_siblings", "study_code", "return_requested")} for s in chunk],
                "_links": {"self": {"href": f"{base}?page={page}&page_size={size}", "title": "Current"},
                           "next": {"href": f"{base}?page={page + 1}&page_size={size}" if more else None,
                                    "title": "Next"},
                           "previous": {"href": f"{base}?page={page - 1}&page_size={size}" if page > 1 else None,
                                        "title": "Previous"}},
                "meta": {"count": len(subs)}})

        def _transition(self, sid, body) -> None:
            sub = state.find(sid)
            if sub is None:
                return self._error(404, "Not found.")
            action = body.get("action")
            if action not in ("APPROVE", "REJECT"):
                return self._error(400, {"action": ["Not a valid action."]})
            if sub["status"] != "AWAITING REVIEW":
                return self._error(400, f"Cannot transition a submission in status {sub['status']}.")
            if action == "REJECT":
                if len(body.get("message") or "") < MIN_MESSAGE:
                    return self._error(400, {"message": [f"Ensure this field has at least {MIN_MESSAGE} characters."]})
                if body.get("rejection_category") not in CATEGORIES:
                    return self._error(400, {"rejection_category": ["Not a valid choice."]})
            sub["status"] = "APPROVED" if action == "APPROVE" else "REJECTED"
            self._send(200, _detail(sub))

        def _set_up_bonus(self, body) -> None:
            study = body.get("study_id")
            if study not in state.submissions:
                return self._error(400, {"study_id": ["Not a valid study."]})
            rows, wrong = [], []
            for line in (body.get("csv_bonuses") or "").splitlines():
                pid, _, amount = line.partition(",")
                if not any(s["participant_id"] == pid for s in state.submissions[study]):
                    wrong.append(pid)
                rows.append((pid, float(amount)))
            if wrong or not rows:
                return self._error(400, f"Invalid participant ids: {', '.join(wrong) or 'none given'}")
            bulk_id = uuid.uuid4().hex[:24]
            total = sum(a for _, a in rows)
            state.bulk_bonuses[bulk_id] = {"study": study, "rows": rows}
            self._send(201, {"id": bulk_id, "study": study, "amount": round(total * 100),
                             "fees": round(total * 100 * 0.33), "total_amount": round(total * 100 * 1.33)})

        def do_GET(self):  # noqa: N802
            self._handle("GET")

        def do_POST(self):  # noqa: N802
            self._handle("POST")

    return Handler


def _detail(sub: dict) -> dict:
    return {"id": sub["id"], "participant": sub["participant_id"], "status": sub["status"],
            "study_id": None, "started_at": sub["started_at"], "completed_at": sub["completed_at"],
            "entered_code": sub["study_code"], "bonus_payments": sub["bonus_payments"],
            "return_requested": sub["return_requested"]}


def serve(state: StandIn) -> tuple[ThreadingHTTPServer, str]:
    """Start the stand-in on a free local port in a thread; returns the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
