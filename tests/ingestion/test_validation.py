"""validation.py: pure checks and normalization of Segment messages (no database)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orgpulse.ingestion.validation import (
    Limits,
    Message,
    Rejection,
    validate_batch,
    validate_message,
)

RECEIVED = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)
TYPES = "track, identify, group, page, screen"


def check(raw: Any, **kwargs: Any) -> Message | Rejection:
    kwargs.setdefault("received_at", RECEIVED)
    return validate_message(raw, index=0, **kwargs)


def reason(raw: Any, **kwargs: Any) -> str:
    result = check(raw, **kwargs)
    assert isinstance(result, Rejection), result
    return result.reason


def ok(raw: Any, **kwargs: Any) -> Message:
    result = check(raw, **kwargs)
    assert isinstance(result, Message), result
    return result


def track(**fields: Any) -> dict[str, Any]:
    return {"type": "track", "userId": "u1", "event": "Login", "messageId": "m1", **fields}


# ------------------------------------------------------------------------------ rejections


@pytest.mark.parametrize("raw", [42, "track", [{"type": "track"}], None, True, 1.5])
def test_non_object_is_rejected(raw: Any) -> None:
    result = check(raw)
    assert result == Rejection(0, None, "message must be a JSON object")


@pytest.mark.parametrize(
    ("msg_type", "shown"),
    [("alias", "'alias'"), ("Track", "'Track'"), (None, "None"), (7, "7"), ("", "''")],
)
def test_unknown_type_is_rejected(msg_type: Any, shown: str) -> None:
    raw = track(type=msg_type)
    if msg_type is None:
        del raw["type"]
    result = check(raw)
    assert result == Rejection(0, "m1", f"unknown type {shown}; expected one of {TYPES}")


def test_type_sent_to_the_wrong_single_endpoint_is_rejected() -> None:
    raw = {"type": "identify", "userId": "u1", "messageId": "m1"}
    assert reason(raw, implied_type="track") == "type 'identify' sent to the /v1/track endpoint"
    # The single endpoints imply the type when the body does not name one.
    assert ok({"userId": "u1", "event": "E"}, implied_type="track").type == "track"


@pytest.mark.parametrize("msg_type", ["track", "identify", "page", "screen"])
@pytest.mark.parametrize("ids", [{}, {"userId": None, "anonymousId": None}, {"userId": ""}])
def test_user_or_anonymous_id_is_required(msg_type: str, ids: dict[str, Any]) -> None:
    raw = {"type": msg_type, "event": "Login", "messageId": "m1", **ids}
    assert reason(raw) == "userId or anonymousId is required"


def test_anonymous_id_alone_is_enough_and_group_needs_no_user() -> None:
    msg = ok({"type": "track", "anonymousId": "anon-1", "event": "Login"})
    assert (msg.user_id, msg.anonymous_id) == (None, "anon-1")
    group = ok({"type": "group", "groupId": "acme"})
    assert (group.user_id, group.anonymous_id, group.group_id) == (None, None, "acme")


@pytest.mark.parametrize("group_id", [None, ""])
def test_group_without_group_id_is_rejected(group_id: Any) -> None:
    raw = {"type": "group", "userId": "u1", "messageId": "m1", "traits": {"name": "Acme"}}
    if group_id is not None:
        raw["groupId"] = group_id
    assert reason(raw) == "group requires groupId"


@pytest.mark.parametrize("event", [None, "", "   ", 5, ["Login"]])
def test_track_without_a_usable_event_name_is_rejected(event: Any) -> None:
    raw = track(event=event)
    assert reason(raw) == "track requires a non-empty event name"


def test_event_name_length_limit() -> None:
    assert ok(track(event="x" * 200)).name == "x" * 200
    assert reason(track(event="x" * 201)) == "event name is longer than 200 characters"
    # Surrounding whitespace is trimmed before the length check.
    assert ok(track(event="  " + "y" * 200 + "  ")).name == "y" * 200


def test_dollar_prefixed_event_names_are_reserved() -> None:
    assert reason(track(event="$identify")) == "event names starting with '$' are reserved"
    assert reason(track(event=" $custom")) == "event names starting with '$' are reserved"
    assert ok(track(event="Paid $5")).name == "Paid $5"


def test_nul_in_a_nested_property_value_is_rejected_with_its_path() -> None:
    raw = track(properties={"plan": "pro", "a": {"b": ["fine", "bad\x00value"]}})
    assert reason(raw) == (
        "$.properties.a.b[1] contains a NUL character (\\u0000), which cannot be stored"
    )


def test_nul_in_a_key_is_rejected() -> None:
    raw = track(properties={"ok": 1, "k\x00ey": 2})
    assert reason(raw) == (
        "$.properties.<key> contains a NUL character (\\u0000), which cannot be stored"
    )
    assert reason(track(**{"weird\x00": 1})).startswith("$.<key> contains a NUL character")


def test_nul_in_an_identifier_is_rejected() -> None:
    assert reason(track(userId="u\x001")) == (
        "$.userId contains a NUL character (\\u0000), which cannot be stored"
    )


def test_an_escaped_backslash_u0000_text_is_not_a_nul() -> None:
    # The six characters \u0000 (a backslash then "u0000") are ordinary text, storable as is.
    msg = ok(track(properties={"path": "C:\\u0000\\dir"}))
    assert msg.properties == {"path": "C:\\u0000\\dir"}


def test_message_over_32_kb_is_rejected_with_its_size() -> None:
    limit = 32 * 1024
    overhead = len(json.dumps(track(properties={"blob": ""}), separators=(",", ":")))
    fits = track(properties={"blob": "x" * (limit - overhead)})
    assert len(json.dumps(fits, separators=(",", ":")).encode()) == limit
    assert ok(fits).properties["blob"] == "x" * (limit - overhead)
    too_big = track(properties={"blob": "x" * (limit - overhead + 1)})
    assert reason(too_big) == f"message is {limit + 1} bytes; the limit is {limit} (32 KB)"


def test_size_counts_utf8_bytes_not_characters() -> None:
    limit = 32 * 1024
    overhead = len(json.dumps(track(properties={"blob": ""}), separators=(",", ":")))
    # "é" is 2 bytes in UTF-8: half as many characters reach the same byte count.
    chars = (limit - overhead) // 2 + 1
    size = overhead + 2 * chars
    assert reason(track(properties={"blob": "é" * chars})) == (
        f"message is {size} bytes; the limit is {limit} (32 KB)"
    )


@pytest.mark.parametrize("key", ["userId", "anonymousId"])
@pytest.mark.parametrize("value", [1.5, True, False, ["u1"], {"id": "u1"}])
def test_non_string_identifiers_are_rejected(key: str, value: Any) -> None:
    raw = {"type": "track", "event": "Login", "messageId": "m1", key: value}
    if key == "anonymousId":
        raw["userId"] = "u1"
    assert reason(raw) == f"{key} must be a string"


def test_integer_identifiers_are_stringified() -> None:
    msg = ok({"type": "track", "userId": 42, "anonymousId": 7, "event": "E"})
    assert (msg.user_id, msg.anonymous_id) == ("42", "7")
    group = ok({"type": "group", "groupId": 1001})
    assert group.group_id == "1001"


@pytest.mark.parametrize("value", [1.5, True, ["acme"], {"id": "acme"}])
def test_non_string_group_ids_are_rejected(value: Any) -> None:
    assert reason({"type": "group", "groupId": value}) == "groupId must be a string"
    assert reason(track(context={"groupId": value})) == "groupId must be a string"


def test_identifier_length_limit() -> None:
    assert ok(track(userId="u" * 255)).user_id == "u" * 255
    assert reason(track(userId="u" * 256)) == "userId is longer than 255 characters"
    assert reason({"type": "group", "groupId": "g" * 256}) == (
        "groupId is longer than 255 characters"
    )


@pytest.mark.parametrize("message_id", [123, "", ["m"], "m" * 256])
def test_invalid_message_id_is_rejected(message_id: Any) -> None:
    assert reason(track(messageId=message_id)) == (
        "messageId must be a non-empty string of at most 255"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("yesterday", "timestamp is not an ISO 8601 timestamp: 'yesterday'"),
        ("2026-13-01T00:00:00Z", "timestamp is not an ISO 8601 timestamp: '2026-13-01T00:00:00Z'"),
        ("", "timestamp is not an ISO 8601 timestamp: ''"),
        (1764000000, "timestamp must be an ISO 8601 string"),
        ({"at": "2026-11-23"}, "timestamp must be an ISO 8601 string"),
        # Valid syntax, but not representable in UTC (year 1 with a positive offset).
        (
            "0001-01-01T00:00:00+01:00",
            "timestamp is not an ISO 8601 timestamp: '0001-01-01T00:00:00+01:00'",
        ),
    ],
)
def test_bad_timestamps_are_rejected(value: Any, expected: str) -> None:
    assert reason(track(timestamp=value)) == expected


def test_bad_message_level_sent_at_is_rejected() -> None:
    raw = track(timestamp="2026-11-23T11:00:00Z", sentAt="not a date")
    assert reason(raw) == "sentAt is not an ISO 8601 timestamp: 'not a date'"
    assert reason(track(sentAt=12)) == "sentAt must be an ISO 8601 string"


def test_timestamp_and_sent_at_too_far_apart_are_rejected_not_raised() -> None:
    raw = track(timestamp="0001-01-01T00:00:00Z", sentAt="9999-12-31T00:00:00Z")
    assert reason(raw) == "timestamp and sentAt are too far apart to correct the clock skew"


@pytest.mark.parametrize("key", ["properties", "traits", "context"])
@pytest.mark.parametrize("value", [[1, 2], "text", 5, True])
def test_properties_traits_context_must_be_objects(key: str, value: Any) -> None:
    assert reason(track(**{key: value})) == f"{key} must be a JSON object"


def test_identify_context_traits_must_be_an_object_when_used() -> None:
    raw = {"type": "identify", "userId": "u1", "context": {"traits": ["admin"]}}
    assert reason(raw) == "traits must be a JSON object"


def test_message_nested_too_deeply_to_store_is_rejected_not_raised() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(300):
        node["a"] = {}
        node = node["a"]
    assert reason(track(properties=deep)).startswith("message cannot be stored as JSON: ")


def test_integer_beyond_64_bits_is_rejected_not_raised() -> None:
    # json.loads (the CSV importer's parser) yields arbitrary-precision ints.
    raw = json.loads('{"type": "track", "userId": "u1", "event": "E", "properties": '
                     '{"n": 123456789012345678901234567890}}')
    assert reason(raw).startswith("message cannot be stored as JSON: ")


def test_lone_surrogate_is_rejected_not_raised() -> None:
    raw = json.loads(
        '{"type": "track", "userId": "u1", "event": "E", "properties": {"s": "\\ud800"}}'
    )
    assert raw["properties"]["s"] == "\ud800"
    assert reason(raw).startswith("message cannot be stored as JSON: ")


def test_rejection_carries_the_message_id_when_it_is_a_string() -> None:
    assert check({"type": "track", "messageId": "abc"}) == Rejection(
        0, "abc", "userId or anonymousId is required"
    )
    assert check({"type": "track", "userId": "u1", "event": "E", "messageId": 5}) == Rejection(
        0, None, "messageId must be a non-empty string of at most 255"
    )


# ------------------------------------------------------------------------------ normalization


def test_clock_skew_correction_with_message_level_sent_at() -> None:
    # The client's clock runs 45 minutes behind: it stamped the event 10:30 and sent it 10:45
    # (its time); we received it at 12:00 (ours). Event time = 12:00 − (10:45 − 10:30) = 11:45.
    msg = ok(track(timestamp="2026-11-23T10:30:00Z", sentAt="2026-11-23T10:45:00Z"))
    assert msg.event_time == datetime(2026, 11, 23, 11, 45, tzinfo=UTC)


def test_clock_skew_correction_with_batch_level_sent_at() -> None:
    body = {
        "sentAt": "2026-11-23T14:00:05Z",  # client clock 2 h ahead
        "batch": [
            track(messageId="a", timestamp="2026-11-23T14:00:00Z"),
            track(messageId="b", timestamp="2026-11-23T13:00:00.250Z"),
            # A message-level sentAt wins over the batch-level one.
            track(messageId="c", timestamp="2026-11-23T09:00:00Z", sentAt="2026-11-23T09:10:00Z"),
        ],
    }
    messages, rejections, duplicates = validate_batch(body, received_at=RECEIVED)
    assert (rejections, duplicates) == ([], 0)
    assert [m.event_time for m in messages] == [
        datetime(2026, 11, 23, 11, 59, 55, tzinfo=UTC),
        datetime(2026, 11, 23, 10, 59, 55, 250_000, tzinfo=UTC),
        datetime(2026, 11, 23, 11, 50, tzinfo=UTC),
    ]


def test_timestamp_without_sent_at_is_taken_as_is() -> None:
    msg = ok(track(timestamp="2026-11-20T08:15:30.123+02:00"))
    assert msg.event_time == datetime(2026, 11, 20, 6, 15, 30, 123_000, tzinfo=UTC)
    naive = ok(track(timestamp="2026-11-20T08:15:30"))  # no offset: UTC
    assert naive.event_time == datetime(2026, 11, 20, 8, 15, 30, tzinfo=UTC)
    lower_z = ok(track(timestamp="2026-11-20T08:15:30z"))
    assert lower_z.event_time == datetime(2026, 11, 20, 8, 15, 30, tzinfo=UTC)


def test_missing_timestamp_means_received_at() -> None:
    assert ok(track()).event_time == RECEIVED
    assert ok(track(timestamp=None)).event_time == RECEIVED
    # sentAt alone changes nothing: there is no client event time to correct.
    assert ok(track(sentAt="2020-01-01T00:00:00Z")).event_time == RECEIVED


def test_received_at_in_another_zone_is_normalized_to_utc() -> None:
    received = RECEIVED.astimezone(timezone(timedelta(hours=-7)))
    assert received.hour == 5
    msg = ok(track(timestamp="2026-11-23T10:30:00Z", sentAt="2026-11-23T10:45:00Z"),
             received_at=received)
    assert msg.event_time == datetime(2026, 11, 23, 11, 45, tzinfo=UTC)
    assert msg.event_time.utcoffset() == timedelta(0)


def test_future_skew_limit() -> None:
    limits = Limits(retention_days=730, max_future_skew_seconds=3600)
    assert ok(track(timestamp="2026-11-23T13:00:00Z"), limits=limits).event_time == datetime(
        2026, 11, 23, 13, 0, tzinfo=UTC
    )
    assert reason(track(timestamp="2026-11-23T13:00:01Z"), limits=limits) == (
        "timestamp 2026-11-23T13:00:01+00:00 is too far in the future"
    )
    # Default limit: one day ahead.
    assert ok(track(timestamp="2026-11-24T12:00:00Z")).event_time == RECEIVED + timedelta(days=1)
    assert reason(track(timestamp="2026-11-24T12:00:00.001Z")).endswith("too far in the future")


def test_future_check_applies_to_the_corrected_time() -> None:
    limits = Limits(retention_days=730, max_future_skew_seconds=0)
    # A client clock a year ahead: timestamp and sentAt are both in "the future", but the
    # corrected time is one minute ago.
    msg = ok(track(timestamp="2027-11-23T11:59:00Z", sentAt="2027-11-23T12:00:00Z"), limits=limits)
    assert msg.event_time == datetime(2026, 11, 23, 11, 59, tzinfo=UTC)
    # A stale sentAt can push the corrected time ahead of receipt.
    assert reason(
        track(timestamp="2026-11-23T12:00:00Z", sentAt="2026-11-23T11:59:59Z"), limits=limits
    ) == "timestamp 2026-11-23T12:00:01+00:00 is too far in the future"


def test_retention_limit() -> None:
    limits = Limits(retention_days=30, max_future_skew_seconds=86_400)
    assert ok(track(timestamp="2026-10-24T12:00:00Z"), limits=limits).event_time == datetime(
        2026, 10, 24, 12, 0, tzinfo=UTC
    )
    assert reason(track(timestamp="2026-10-24T11:59:59Z"), limits=limits) == (
        "timestamp 2026-10-24T11:59:59+00:00 is older than the retention horizon (30 days)"
    )
    # Default: 400 days (2026-11-23T12:00 − 400 days = 2025-10-19T12:00).
    assert ok(track(timestamp="2025-10-19T12:00:00Z")).event_time == datetime(
        2025, 10, 19, 12, 0, tzinfo=UTC
    )
    assert reason(track(timestamp="2025-10-19T11:59:59Z")) == (
        "timestamp 2025-10-19T11:59:59+00:00 is older than the retention horizon (400 days)"
    )


def test_names_ids_and_payloads_per_type() -> None:
    ident = ok({"type": "identify", "userId": "u1", "traits": {"role": "admin"}})
    assert (ident.name, ident.traits, ident.is_activity) == ("$identify", {"role": "admin"}, False)
    from_context = ok({"type": "identify", "userId": "u1", "context": {"traits": {"a": 1}}})
    assert from_context.traits == {"a": 1}
    group = ok({"type": "group", "groupId": "acme", "context": {"groupId": "other"}})
    assert (group.name, group.group_id, group.is_activity) == ("$group", "acme", False)
    page = ok({"type": "page", "anonymousId": "a", "name": "Home", "properties": {"x": 1}})
    assert (page.name, page.properties, page.is_activity) == ("$page", {"x": 1}, True)
    screen = ok({"type": "screen", "userId": "u1"})
    assert (screen.name, screen.is_activity) == ("$screen", True)
    tracked = ok(track(event="  Report Viewed ", context={"groupId": "acme"}))
    assert (tracked.name, tracked.group_id, tracked.is_activity) == (
        "Report Viewed", "acme", True
    )


def test_event_id_is_a_uuid7_of_the_event_time() -> None:
    msg = ok(track(timestamp="2026-11-20T08:15:30.123Z"))
    assert isinstance(msg.event_id, uuid.UUID)
    assert msg.event_id.version == 7
    assert msg.event_id.int >> 80 == int(msg.event_time.timestamp() * 1000)


def test_missing_message_id_gets_a_generated_one() -> None:
    raw = {"type": "track", "userId": "u1", "event": "Login"}
    first, second = ok(raw), ok(dict(raw))
    assert uuid.UUID(first.message_id).version == 7
    assert first.message_id != second.message_id
    assert "messageId" not in raw  # the input is not mutated


def test_message_json_round_trip() -> None:
    msg = ok(track(properties={"a": [1, 2]}, context={"groupId": "acme"},
                   timestamp="2026-11-20T08:15:30Z", anonymousId="anon"))
    again = Message.from_json(json.loads(json.dumps(msg.to_json())), index=3)
    assert again.index == 3
    assert (again.type, again.message_id, again.name, again.event_time, again.user_id,
            again.anonymous_id, again.group_id, again.properties, again.context,
            again.event_id) == (
        msg.type, msg.message_id, msg.name, msg.event_time, msg.user_id, msg.anonymous_id,
        msg.group_id, msg.properties, msg.context, msg.event_id,
    )


# ------------------------------------------------------------------------------ batches


def test_in_batch_duplicates_are_counted_and_dropped() -> None:
    batch = [
        track(messageId="a", event="First"),
        track(messageId="b"),
        track(messageId="a", event="Second"),
        {"type": "track", "messageId": "c"},  # invalid: no ids
        track(messageId="c"),  # the invalid one above did not claim "c"
        track(messageId="a", event="Third"),
        track(messageId="c"),
    ]
    messages, rejections, duplicates = validate_batch({"batch": batch}, received_at=RECEIVED)
    assert [(m.index, m.message_id, m.name) for m in messages] == [
        (0, "a", "First"), (1, "b", "Login"), (4, "c", "Login"),
    ]
    assert rejections == [Rejection(3, "c", "userId or anonymousId is required")]
    assert duplicates == 3


def test_batch_indexes_rejections_in_order() -> None:
    batch = [
        track(messageId="ok-1"), "nope", track(messageId="bad", event=""), track(messageId="ok-2")
    ]
    messages, rejections, duplicates = validate_batch({"batch": batch}, received_at=RECEIVED)
    assert [m.index for m in messages] == [0, 3]
    assert rejections == [
        Rejection(1, None, "message must be a JSON object"),
        Rejection(2, "bad", "track requires a non-empty event name"),
    ]
    assert duplicates == 0


@pytest.mark.parametrize(
    "body",
    [None, [], "batch", {"batch": None}, {"batch": {"0": {}}}, {"messages": []}, {"batch": "[]"}],
)
def test_body_without_a_batch_array_raises_value_error(body: Any) -> None:
    with pytest.raises(ValueError, match='^body must be a JSON object with a "batch" array$'):
        validate_batch(body, received_at=RECEIVED)


def test_bad_batch_level_sent_at_raises_value_error() -> None:
    with pytest.raises(ValueError, match="^sentAt is not an ISO 8601 timestamp: 'soon'$"):
        validate_batch({"batch": [], "sentAt": "soon"}, received_at=RECEIVED)


def test_empty_batch_is_valid() -> None:
    assert validate_batch({"batch": []}, received_at=RECEIVED) == ([], [], 0)


def test_single_message_body_with_implied_type() -> None:
    messages, rejections, duplicates = validate_batch(
        {"userId": "u1", "event": "Login", "messageId": "x"}, received_at=RECEIVED,
        implied_type="track",
    )
    assert ([m.message_id for m in messages], rejections, duplicates) == (["x"], [], 0)
    messages, rejections, _ = validate_batch([1], received_at=RECEIVED, implied_type="track")
    assert messages == []
    assert rejections == [Rejection(0, None, "message must be a JSON object")]


# ------------------------------------------------------------------------------ property


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.text(st.characters(codec=None, categories=["Cs", "Cc", "Lu"]), max_size=3),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
timestamps = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, None]),
    ).map(lambda d: d.isoformat()),
    st.datetimes(
        min_value=datetime(2026, 11, 1), max_value=datetime(2026, 12, 1),  # noqa: DTZ001
    ).map(lambda d: d.isoformat() + "Z"),
    st.sampled_from(["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "nope", ""]),
    json_values,
)
ids = st.one_of(st.none(), st.sampled_from(["u1", "u2", "", 7, 1.5, True]), st.text(max_size=6))
message_fields = st.fixed_dictionaries(
    {
        "type": st.sampled_from(["track", "identify", "group", "page", "screen", "alias", None]),
        "messageId": st.one_of(st.none(), st.sampled_from(["m1", "m2", "m3", "", 5])),
    },
    optional={
        "userId": ids,
        "anonymousId": ids,
        "groupId": ids,
        "event": st.one_of(st.sampled_from(["Login", "$x", "", " "]), json_values),
        "timestamp": timestamps,
        "sentAt": timestamps,
        "properties": json_values,
        "traits": json_values,
        "context": st.one_of(json_values, st.fixed_dictionaries({"groupId": ids})),
    },
)
raw_messages = st.one_of(message_fields, message_fields, json_values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    batch=st.lists(raw_messages, max_size=12),
    sent_at=st.sampled_from([None, "2026-11-23T11:00:00Z"]),
)
def test_every_message_lands_in_exactly_one_bucket(batch: list[Any], sent_at: str | None) -> None:
    body: dict[str, Any] = {"batch": batch}
    if sent_at:
        body["sentAt"] = sent_at
    messages, rejections, duplicates = validate_batch(body, received_at=RECEIVED)
    assert len(messages) + len(rejections) + duplicates == len(batch)
    msg_idx = [m.index for m in messages]
    rej_idx = [r.index for r in rejections]
    assert msg_idx == sorted(set(msg_idx))
    assert rej_idx == sorted(set(rej_idx))
    assert not set(msg_idx) & set(rej_idx)
    assert all(0 <= i < len(batch) for i in msg_idx + rej_idx)
    for r in rejections:
        assert isinstance(r.reason, str) and r.reason.strip()
        # The index names the message the rejection is about: on its own it is refused too,
        # for the same reason.
        again = validate_message(batch[r.index], index=r.index, received_at=RECEIVED,
                                 batch_sent_at=datetime(2026, 11, 23, 11, tzinfo=UTC)
                                 if sent_at else None)
        assert isinstance(again, Rejection)
        assert again.reason == r.reason
        raw_mid = batch[r.index].get("messageId") if isinstance(batch[r.index], dict) else None
        assert r.message_id == (raw_mid if isinstance(raw_mid, str) else None)
    seen = {m.message_id for m in messages}
    assert len(seen) == len(messages)
    for m in messages:
        raw = batch[m.index]
        assert isinstance(raw, dict)
        if raw.get("messageId") is not None:
            assert m.message_id == raw["messageId"]
    # Every index not accounted for is a later copy of an accepted messageId.
    rest = set(range(len(batch))) - set(msg_idx) - set(rej_idx)
    first_of = {m.message_id: m.index for m in messages}
    for i in rest:
        mid = batch[i]["messageId"]
        assert first_of[mid] < i
