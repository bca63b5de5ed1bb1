"""The Prolific client over real HTTP against the stand-in: pagination, 429 with Retry-After, one-line errors
that never hold the token, and the documented request bodies."""

from __future__ import annotations

import pytest

from study_app.recruit.prolific_api import MAX_TRIES, PAGE_SIZE, ProlificClient, ProlificError

from .conftest import TOKEN


def _client(url, waits=None):
    return ProlificClient(TOKEN, url, sleep=(waits.append if waits is not None else lambda s: None))


def test_every_page_of_submissions_is_read(prolific):
    state, url = prolific
    made = [state.add("S1", f"p{i:03d}") for i in range(2 * PAGE_SIZE + 7)]
    state.add("OTHER", "stranger")
    client = _client(url)
    got = list(client.submissions("S1"))
    assert [s["id"] for s in got] == [s["id"] for s in made]
    pages = [p for m, p, _, _ in state.requests if m == "GET"]
    assert len(pages) == 3 and all(f"page_size={PAGE_SIZE}" in p for p in pages)
    headers = state.requests[0][3]
    assert headers["Authorization"] == f"Token {TOKEN}"


def test_a_429_is_retried_after_its_retry_after_seconds(prolific):
    state, url = prolific
    state.add("S1", "p1")
    state.rate_limit["/api/v1/studies/"] = (2, "3")
    waits: list[float] = []
    assert len(list(_client(url, waits).submissions("S1"))) == 1
    assert waits == [3.0, 3.0]  # honoured the header, twice, then got through


def test_a_429_without_retry_after_backs_off_exponentially_then_gives_up_in_one_line(prolific):
    state, url = prolific
    state.add("S1", "p1")
    state.rate_limit["/api/v1/studies/"] = (MAX_TRIES + 3, None)
    waits: list[float] = []
    with pytest.raises(ProlificError) as caught:
        list(_client(url, waits).submissions("S1"))
    assert caught.value.status == 429 and waits == [1.0, 2.0, 4.0, 8.0][: MAX_TRIES - 1]
    assert "\n" not in str(caught.value) and "429" in str(caught.value)
    assert sum(1 for m, *_ in state.requests if m == "GET") == MAX_TRIES


@pytest.mark.parametrize("status,words", [(401, "token"), (403, "may not"), (404, "prolific_study_id"),
                                          (500, "try again later"), (503, "try again later")])
def test_each_failure_is_one_clear_line_without_the_token(prolific, status, words):
    state, url = prolific
    state.add("S1", "p1")
    if status == 404:
        target = "NOPE"
    else:
        target = "S1"
        state.failures["/api/v1/studies/"] = status
    with pytest.raises(ProlificError) as caught:
        list(_client(url).submissions(target))
    message = str(caught.value)
    assert caught.value.status == status and f"HTTP {status}" in message and words in message
    assert "\n" not in message and TOKEN not in message and "s3cr3t" not in message


def test_a_wrong_token_is_refused_with_401(prolific):
    state, url = prolific
    state.add("S1", "p1")
    with pytest.raises(ProlificError) as caught:
        list(ProlificClient("wrong-token", url).submissions("S1"))
    assert caught.value.status == 401 and "XAI_STUDY_PROLIFIC_TOKEN" in str(caught.value)


def test_no_server_is_one_line(prolific):
    _, url = prolific
    with pytest.raises(ProlificError, match="cannot reach Prolific"):
        list(ProlificClient(TOKEN, "http://127.0.0.1:9").submissions("S1"))
    with pytest.raises(ProlificError, match="no Prolific API token"):
        ProlificClient("  ", url)


def test_reject_return_approve_and_bonus_bodies_follow_the_docs(prolific):
    state, url = prolific
    a, b, c = (state.add("S1", p) for p in ("pa", "pb", "pc"))
    client = _client(url)
    with pytest.raises(ProlificError) as short:
        client.reject(a["id"], "too short", "FAILED_CHECK")
    assert short.value.status == 400 and "at least 100 characters" in str(short.value)
    client.reject(a["id"], "x" * 100, "FAILED_CHECK")
    assert state.find(a["id"])["status"] == "REJECTED"
    client.request_return(b["id"], ["Withdrew consent."])
    assert state.find(b["id"])["return_requested"]
    assert client.bulk_approve([c["id"]]) == 1 and state.find(c["id"])["status"] == "APPROVED"
    with pytest.raises(ProlificError, match="stranger"):
        client.set_up_bonuses("S1", {"stranger": 1.0})
    bulk = client.set_up_bonuses("S1", {"pa": 0.5, "pc": 1.25})
    assert state.paid == []  # setting up pays nothing
    client.pay_bonuses(bulk["id"])
    assert sorted(state.paid) == [("pa", 0.5), ("pc", 1.25)]
    setup = state.posts("/api/v1/submissions/bonus-payments/")[-1][1]
    assert setup == {"study_id": "S1", "csv_bonuses": "pa,0.50\npc,1.25\n"}
    assert repr(client) == f"ProlificClient({url!r})" and TOKEN not in repr(client)
