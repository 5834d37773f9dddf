"""Generated Segment traffic through the real HTTP endpoints: nothing lost, nothing doubled.

Every generated message is built either valid or with one known defect, so the expected outcome
of each is known independently of the code under test: a valid message is stored exactly once
(one ``events`` row for its messageId, or one ``unattributed_events`` row when nothing names its
org), a defective one is rejected with a reason, and the counts of the answer add up to what was
sent. Sending the same request again stores nothing more.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from factories import Factory
from ingestion.ingest_helpers import basic, iso, platform_rows, scoped_rows

ORG = "fuzz-org"
USERS = ("u1", "u2", "u3")
# The clock of the generated timestamps. Valid events are at most 300 days old, defective ones at
# least 800 days old or 3 days ahead: far from the limits (760 days back in the test settings, one
# day ahead), so the minutes between import and request change nothing.
NOW = datetime.now(UTC).replace(microsecond=0)
HUGE = 32 * 1024 + 100  # longer than a whole message may be (32 KB); 15 fit in a batch
# The examples of a test share its org and write key (a function-scoped fixture): every message
# id is made unique, so one example's messages never meet another's.
SETTINGS = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
_example = itertools.count(1)
_message = itertools.count(1)

# Each defect makes a message invalid whatever else it carries; applies to the listed kinds.
DEFECTS: dict[str, tuple[str, ...]] = {
    "no_user": ("track", "identify", "page"),
    "user_not_a_string": ("track", "identify", "page"),
    "user_too_long": ("track", "identify", "page"),
    "no_group_id": ("group",),
    "no_event_name": ("track",),
    "reserved_event_name": ("track",),
    "unknown_type": ("track", "identify", "group", "page"),
    "type_not_a_string": ("track", "identify", "group", "page"),
    "timestamp_not_iso": ("track", "identify", "group", "page"),
    "timestamp_not_a_string": ("track", "identify", "group", "page"),
    "timestamp_too_old": ("track", "identify", "group", "page"),
    "timestamp_in_future": ("track", "identify", "group", "page"),
    "message_id_not_a_string": ("track", "identify", "group", "page"),
    "message_id_empty": ("track", "identify", "group", "page"),
    "properties_not_an_object": ("track", "page"),
    "context_not_an_object": ("track", "identify", "page"),
    "nul_character": ("track", "identify", "group", "page"),
    "huge_string": ("track", "identify", "group", "page"),
    "not_an_object": ("track", "identify", "group", "page"),
}


@dataclass(frozen=True)
class Sent:
    """One generated message and what must become of it."""

    body: Any
    message_id: str
    defect: str | None  # None: valid
    held: bool = False  # valid, but names no org: kept as unattributed

    @property
    def valid(self) -> bool:
        return self.defect is None


names = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1,
                max_size=40).map(lambda s: "Fuzz " + s.strip())
values = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30),
    st.text(alphabet="ab", min_size=5000, max_size=8000),  # large, still under 32 KB
)
properties = st.dictionaries(st.sampled_from(("a", "b", "course_id", "note")), values,
                             max_size=3)


def _defect(msg: dict[str, Any], defect: str, kind: str) -> Any:
    """Return ``msg`` broken by ``defect``."""
    bad = dict(msg)
    if defect == "no_user":
        bad.pop("userId")
    elif defect == "user_not_a_string":
        bad["userId"] = ["u1"]
    elif defect == "user_too_long":
        bad["userId"] = "u" * 256
    elif defect == "no_group_id":
        bad.pop("groupId")
    elif defect == "no_event_name":
        bad.pop("event")
    elif defect == "reserved_event_name":
        bad["event"] = "$identify"
    elif defect == "unknown_type":
        bad["type"] = "alias"
    elif defect == "type_not_a_string":
        bad["type"] = 7
    elif defect == "timestamp_not_iso":
        bad["timestamp"] = "yesterday at noon"
    elif defect == "timestamp_not_a_string":
        bad["timestamp"] = 1_700_000_000
    elif defect == "timestamp_too_old":
        bad["timestamp"] = iso(NOW - timedelta(days=800))
    elif defect == "timestamp_in_future":
        bad["timestamp"] = iso(NOW + timedelta(days=3))
    elif defect == "message_id_not_a_string":
        bad["messageId"] = 12345
    elif defect == "message_id_empty":
        bad["messageId"] = ""
    elif defect == "properties_not_an_object":
        bad["properties"] = ["a", "b"]
    elif defect == "context_not_an_object":
        bad["context"] = "fuzz-org"
    elif defect == "nul_character":
        bad["traits" if kind in ("identify", "group") else "properties"] = {"note": "a\x00b"}
    elif defect == "huge_string":
        bad["traits" if kind in ("identify", "group") else "properties"] = {"note": "x" * HUGE}
    elif defect == "not_an_object":
        return [msg]
    return bad


@st.composite
def messages(draw: st.DrawFn, kinds: tuple[str, ...] = ("track", "identify", "group", "page"),
             prefix: str = "m") -> Sent:
    """A message of one of ``kinds``: valid (attributed or held) or with one defect."""
    kind = draw(st.sampled_from(kinds))
    message_id = f"{prefix}-{next(_message)}"  # unique, whatever hypothesis draws
    age = timedelta(days=draw(st.integers(0, 300)), seconds=draw(st.integers(0, 86_399)))
    msg: dict[str, Any] = {"type": kind, "messageId": message_id, "timestamp": iso(NOW - age)}
    held = False
    if kind == "group":
        msg |= {"groupId": ORG, "traits": {"name": "Fuzz Org"}}
    else:
        held = draw(st.integers(0, 5)) == 0
        if held:  # nobody ever says which org this anonymous visitor belongs to
            msg["userId"] = f"ghost-{message_id}"
        else:
            msg |= {"userId": draw(st.sampled_from(USERS)), "context": {"groupId": ORG}}
    if kind == "track":
        msg |= {"event": draw(names), "properties": draw(properties)}
    elif kind == "page":
        msg |= {"name": draw(names), "properties": draw(properties)}
    elif kind == "identify":
        msg["traits"] = {"role": draw(st.sampled_from(("teacher", "student")))}
    applicable = [d for d, kinds_of in DEFECTS.items() if kind in kinds_of]
    defect = draw(st.one_of(st.none(), st.sampled_from(applicable)))
    if defect is None:
        return Sent(body=msg, message_id=message_id, defect=None, held=held)
    return Sent(body=_defect(msg, defect, kind), message_id=message_id, defect=defect)


@st.composite
def batches(draw: st.DrawFn) -> list[Sent]:
    """Up to 12 messages (always under the 500 KB batch limit), some sent twice in the batch."""
    prefix = f"ex{next(_example)}"
    sent = draw(st.lists(messages(prefix=prefix), min_size=1, max_size=12))
    for _ in range(draw(st.integers(0, 3))):
        copy = sent[draw(st.integers(0, len(sent) - 1))]
        sent.insert(draw(st.integers(0, len(sent))), copy)
    return sent


def expected_rejected_id(item: Sent) -> str | None:
    """The messageId a rejection names: the one sent, when it was a non-empty string."""
    if item.defect in ("not_an_object", "message_id_not_a_string"):
        return None
    return "" if item.defect == "message_id_empty" else item.message_id


def stored(engine: Engine, org_id: int, ids: list[str]) -> tuple[Counter[str], Counter[str]]:
    """How many events rows and unattributed rows each of ``ids`` has."""
    events = scoped_rows(engine, [org_id], "SELECT message_id FROM events"
                         " WHERE message_id = ANY(:ids)", ids=ids)
    held = platform_rows(engine, "SELECT message_id FROM unattributed_events"
                         " WHERE message_id = ANY(:ids)", ids=ids)
    return Counter(r[0] for r in events), Counter(r[0] for r in held)


@pytest.fixture
def ingest_client(client: TestClient, factory: Factory) -> tuple[TestClient, dict[str, str], int]:
    """A client, the write key's auth header and the id of the org the messages name."""
    org_id = factory.org(ORG, "Fuzz Org")
    return client, basic(factory.write_key()), org_id


@SETTINGS
@given(sent=batches())
def test_every_message_of_a_batch_is_stored_once_or_rejected_with_a_reason(
    ingest_client: tuple[TestClient, dict[str, str], int], engine: Engine, sent: list[Sent]
) -> None:
    client, auth, org_id = ingest_client
    body = {"batch": [s.body for s in sent]}
    valid = [s for s in sent if s.valid]
    distinct = {s.message_id: s for s in valid}
    held = [i for i, s in distinct.items() if s.held]
    placed = [i for i, s in distinct.items() if not s.held]
    rejected = [(i, s) for i, s in enumerate(sent) if not s.valid]

    first = client.post("/v1/batch", json=body, headers=auth)
    assert first.status_code == 200, first.text
    outcome = first.json()
    assert (outcome["accepted"], outcome["unattributed"], outcome["duplicates"],
            outcome["rejected"]) == (len(placed), len(held), len(valid) - len(distinct),
                                     len(rejected))
    assert (outcome["accepted"] + outcome["unattributed"] + outcome["duplicates"]
            + outcome["rejected"]) == len(sent)
    assert [(r["index"], r["messageId"]) for r in outcome["rejections"]] == [
        (i, expected_rejected_id(s)) for i, s in rejected
    ]
    assert all(r["reason"] for r in outcome["rejections"])

    ids = [s.message_id for s in sent]
    events, unattributed = stored(engine, org_id, ids)
    assert events == Counter(placed)
    assert unattributed == Counter(held)

    again = client.post("/v1/batch", json=body, headers=auth).json()
    assert (again["accepted"], again["unattributed"], again["duplicates"],
            again["rejected"]) == (0, 0, len(valid), len(rejected))
    assert again["rejections"] == outcome["rejections"]
    assert stored(engine, org_id, ids) == (events, unattributed)


@SETTINGS
@given(data=st.data())
@pytest.mark.parametrize("endpoint", ["track", "identify", "group", "page"])
def test_a_single_message_is_stored_once_or_refused_with_the_reason(
    ingest_client: tuple[TestClient, dict[str, str], int], engine: Engine, endpoint: str,
    data: st.DataObject,
) -> None:
    client, auth, org_id = ingest_client
    item = data.draw(messages(kinds=(endpoint,), prefix=f"ex{next(_example)}"))
    body = item.body
    if item.valid and data.draw(st.booleans()):
        body = {k: v for k, v in body.items() if k != "type"}  # the endpoint implies it

    response = client.post(f"/v1/{endpoint}", json=body, headers=auth)
    events, unattributed = stored(engine, org_id, [item.message_id])
    if item.defect == "huge_string":
        # Larger than a message may be: refused before it is read, as the whole request.
        assert response.status_code == 413, response.text
        assert response.json()["error"]["code"] == "payload_too_large"
    elif not item.valid:
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_input"
        assert error["details"] == [{"index": 0, "messageId": expected_rejected_id(item),
                                     "reason": error["message"]}]
        assert error["message"]
    else:
        assert response.status_code == 200, response.text
        assert (response.json()["accepted"], response.json()["unattributed"]) == (
            (0, 1) if item.held else (1, 0)
        )
        again = client.post(f"/v1/{endpoint}", json=body, headers=auth).json()
        assert (again["accepted"], again["unattributed"], again["duplicates"]) == (0, 0, 1)
    expected = Counter([item.message_id]) if item.valid else Counter()
    assert (events, unattributed) == ((Counter(), expected) if item.held else (expected, Counter()))
    assert stored(engine, org_id, [item.message_id]) == (events, unattributed)


def test_a_message_sent_to_another_types_endpoint_is_refused(
    ingest_client: tuple[TestClient, dict[str, str], int], engine: Engine
) -> None:
    client, auth, org_id = ingest_client
    track = {"type": "track", "messageId": "wrong-door", "userId": "u1", "event": "Login",
             "context": {"groupId": ORG}, "timestamp": iso(NOW)}
    response = client.post("/v1/page", json=track, headers=auth)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "type 'track' sent to the /v1/page endpoint"
    assert stored(engine, org_id, ["wrong-door"]) == (Counter(), Counter())


# What the rejection of each defect says (the part naming the problem).
REASONS = {
    "no_user": "userId or anonymousId is required",
    "user_not_a_string": "userId must be a string",
    "user_too_long": "userId is longer than 255 characters",
    "no_group_id": "group requires groupId",
    "no_event_name": "track requires a non-empty event name",
    "reserved_event_name": "event names starting with '$' are reserved",
    "unknown_type": "unknown type 'alias'",
    "type_not_a_string": "unknown type 7",
    "timestamp_not_iso": "timestamp is not an ISO 8601 timestamp: 'yesterday at noon'",
    "timestamp_not_a_string": "timestamp must be an ISO 8601 string",
    "timestamp_too_old": "is older than the retention horizon (760 days)",
    "timestamp_in_future": "is too far in the future",
    "message_id_not_a_string": "messageId must be a non-empty string of at most 255",
    "message_id_empty": "messageId must be a non-empty string of at most 255",
    "properties_not_an_object": "properties must be a JSON object",
    "context_not_an_object": "context must be a JSON object",
    "nul_character": "contains a NUL character",
    "huge_string": "the limit is 32768 (32 KB)",
    "not_an_object": "message must be a JSON object",
}


def test_each_defect_is_rejected_with_its_reason_while_the_valid_messages_land(
    ingest_client: tuple[TestClient, dict[str, str], int], engine: Engine
) -> None:
    client, auth, org_id = ingest_client
    when = iso(NOW - timedelta(days=1))
    valid = {
        "group": {"type": "group", "messageId": "ok-group", "groupId": ORG, "timestamp": when},
        "identify": {"type": "identify", "messageId": "ok-identify", "userId": "u1",
                     "traits": {"role": "teacher"}, "context": {"groupId": ORG},
                     "timestamp": when},
        "track": {"type": "track", "messageId": "ok-track", "userId": "u1", "event": "Login",
                  "properties": {}, "context": {"groupId": ORG}, "timestamp": when},
        "page": {"type": "page", "messageId": "ok-page", "userId": "u1", "name": "Home",
                 "properties": {}, "context": {"groupId": ORG}, "timestamp": when},
    }
    broken = []
    for defect, kinds in DEFECTS.items():
        kind = kinds[0]
        broken.append(_defect({**valid[kind], "messageId": f"bad-{defect}"}, defect, kind))
    response = client.post("/v1/batch", json={"batch": [*valid.values(), *broken]}, headers=auth)
    outcome = response.json()
    assert (outcome["accepted"], outcome["rejected"]) == (4, len(DEFECTS))
    assert [r["index"] for r in outcome["rejections"]] == list(range(4, 4 + len(DEFECTS)))
    for rejection, defect in zip(outcome["rejections"], DEFECTS, strict=True):
        assert REASONS[defect] in rejection["reason"], (defect, rejection)
    events, unattributed = stored(engine, org_id, [*(m["messageId"] for m in valid.values()),
                                                   *(f"bad-{d}" for d in DEFECTS)])
    assert (events, unattributed) == (Counter(m["messageId"] for m in valid.values()), Counter())
