"""What the Deliveries and Webhooks admin pages show and change (one function per view/action).

Routes add the permission check and the audit record; these functions only read and write.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel
from sqlalchemy import Connection, text

from orgpulse.core.errors import Conflict, InvalidInput, NotFound
from orgpulse.notify.signing import new_secret

DeliveryStatus = Literal["pending", "sent", "dead"]
Channel = Literal["email", "webhook"]
PER_PAGE = 50
URL_MAX = 2000
NAME_MAX = 100


class DeliveryRow(BaseModel):
    delivery_id: int
    channel: Channel
    recipient: str
    endpoint_enabled: bool | None
    source: str
    subject: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    last_status_code: int | None
    created_at: datetime
    sent_at: datetime | None
    attachments: int


class DeliveryPage(BaseModel):
    """One page of the outbox, newest first, with counts per status for the filter tabs."""

    status: DeliveryStatus | None
    channel: Channel | None
    page: int
    per_page: int
    total: int
    pages: int
    counts: dict[str, int]
    smtp_configured: bool
    max_attempts: int
    deliveries: list[DeliveryRow]


_ROW_SQL = (
    "SELECT d.delivery_id, d.channel, COALESCE(d.email_to, w.name || ' <' || w.url || '>')"
    " AS recipient, w.enabled AS endpoint_enabled, d.source, d.subject, d.status, d.attempts,"
    " d.next_attempt_at, d.last_error, d.last_status_code, d.created_at, d.sent_at,"
    " (SELECT count(*) FROM delivery_attachments a WHERE a.delivery_id = d.delivery_id)"
    " AS attachments"
    " FROM deliveries d LEFT JOIN webhook_endpoints w ON w.endpoint_id = d.endpoint_id"
)


def delivery_page(
    *,
    conn: Connection,
    status: DeliveryStatus | None,
    channel: Channel | None,
    page: int,
    smtp_configured: bool,
    max_attempts: int,
    per_page: int = PER_PAGE,
) -> DeliveryPage:
    """Return one page of deliveries matching the filters (page numbers start at 1)."""
    where = []
    params: dict[str, object] = {"limit": per_page, "offset": (page - 1) * per_page}
    if status is not None:
        where.append("d.status = :status")
        params["status"] = status
    if channel is not None:
        where.append("d.channel = :channel")
        params["channel"] = channel
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    rows = conn.execute(
        text(f"{_ROW_SQL}{clause} ORDER BY d.delivery_id DESC LIMIT :limit OFFSET :offset"),  # noqa: S608 - fixed fragments, bound values
        params,
    ).all()
    counts = {"pending": 0, "sent": 0, "dead": 0}
    channel_clause = " WHERE channel = :channel" if channel is not None else ""
    for s, n in conn.execute(
        text(f"SELECT status, count(*) FROM deliveries{channel_clause} GROUP BY status"),  # noqa: S608
        {"channel": channel},
    ):
        counts[s] = int(n)
    total = counts[status] if status is not None else sum(counts.values())
    return DeliveryPage(
        status=status,
        channel=channel,
        page=page,
        per_page=per_page,
        total=total,
        pages=max(1, -(-total // per_page)),
        counts=counts,
        smtp_configured=smtp_configured,
        max_attempts=max_attempts,
        deliveries=[DeliveryRow.model_validate(dict(r._mapping)) for r in rows],
    )


def get_delivery(*, conn: Connection, delivery_id: int) -> DeliveryRow:
    row = conn.execute(text(f"{_ROW_SQL} WHERE d.delivery_id = :d"), {"d": delivery_id}).first()  # noqa: S608
    if row is None:
        raise NotFound(f"delivery {delivery_id} does not exist")
    return DeliveryRow.model_validate(dict(row._mapping))


def retry_delivery(*, conn: Connection, delivery_id: int, now: datetime) -> tuple[
    DeliveryRow, DeliveryRow
]:
    """Make a dead or pending delivery due now; return it before and after.

    A dead one starts over with a full set of tries (its attempts reset to 0); a pending one keeps
    its count. A sent one is refused: sending it again would be a duplicate, not a retry.
    """
    before = get_delivery(conn=conn, delivery_id=delivery_id)
    if before.status == "sent":
        raise Conflict(f"delivery {delivery_id} was already sent; it cannot be retried")
    conn.execute(
        text(
            "UPDATE deliveries SET status = 'pending', next_attempt_at = :now,"
            " attempts = CASE WHEN status = 'dead' THEN 0 ELSE attempts END"
            " WHERE delivery_id = :d"
        ),
        {"now": now, "d": delivery_id},
    )
    return before, get_delivery(conn=conn, delivery_id=delivery_id)


# ----------------------------------------------------------------------------- webhooks
class WebhookEndpoint(BaseModel):
    endpoint_id: int
    name: str
    url: str
    enabled: bool
    created_at: datetime
    created_by_email: str | None
    pending: int
    dead: int


class WebhookList(BaseModel):
    endpoints: list[WebhookEndpoint]


class CreatedEndpoint(BaseModel):
    """A new endpoint with its signing secret: the only answer that ever shows the secret."""

    endpoint: WebhookEndpoint
    secret: str


def validate_url(url: str) -> str:
    """Return the URL stripped, or raise InvalidInput naming what is wrong with it."""
    url = url.strip()
    problem = None
    parts = urlsplit(url)
    if not url:
        problem = "give the URL the webhook is POSTed to"
    elif len(url) > URL_MAX:
        problem = f"the URL is longer than {URL_MAX} characters"
    elif any(c.isspace() for c in url):
        problem = "the URL contains whitespace"
    elif parts.scheme not in ("http", "https"):
        problem = "the URL must start with http:// or https://"
    elif not parts.hostname:
        problem = "the URL has no host"
    elif parts.username or parts.password:
        problem = "the URL must not carry a user name or password"
    if problem is None:
        try:
            _ = parts.port
        except ValueError:
            problem = "the URL's port is not a number between 0 and 65535"
    if problem is not None:
        raise InvalidInput(problem, details=[{"field": "url", "problem": problem}])
    return url


def _validate_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        problem = f"give a name of 1 to {NAME_MAX} characters"
        raise InvalidInput(problem, details=[{"field": "name", "problem": problem}])
    return name


_ENDPOINT_SQL = (
    "SELECT w.endpoint_id, w.name, w.url, w.enabled, w.created_at, u.email AS created_by_email,"
    " count(d.delivery_id) FILTER (WHERE d.status = 'pending') AS pending,"
    " count(d.delivery_id) FILTER (WHERE d.status = 'dead') AS dead"
    " FROM webhook_endpoints w LEFT JOIN users u ON u.user_id = w.created_by"
    " LEFT JOIN deliveries d ON d.endpoint_id = w.endpoint_id"
)
_ENDPOINT_GROUP = " GROUP BY w.endpoint_id, u.email"


def list_endpoints(*, conn: Connection) -> WebhookList:
    rows = conn.execute(text(f"{_ENDPOINT_SQL}{_ENDPOINT_GROUP} ORDER BY w.name, w.endpoint_id"))  # noqa: S608
    return WebhookList(endpoints=[WebhookEndpoint.model_validate(dict(r._mapping)) for r in rows])


def get_endpoint(*, conn: Connection, endpoint_id: int) -> WebhookEndpoint:
    row = conn.execute(
        text(f"{_ENDPOINT_SQL} WHERE w.endpoint_id = :e{_ENDPOINT_GROUP}"),  # noqa: S608
        {"e": endpoint_id},
    ).first()
    if row is None:
        raise NotFound(f"webhook endpoint {endpoint_id} does not exist")
    return WebhookEndpoint.model_validate(dict(row._mapping))


def create_endpoint(
    *, conn: Connection, name: str, url: str, created_by: int | None, now: datetime
) -> CreatedEndpoint:
    """Add an endpoint with a freshly generated secret (enabled)."""
    clean_name, clean_url = _validate_name(name), validate_url(url)
    secret = new_secret()
    endpoint_id = conn.execute(
        text(
            "INSERT INTO webhook_endpoints (name, url, secret, created_at, created_by)"
            " VALUES (:n, :u, :s, :now, :by) RETURNING endpoint_id"
        ),
        {"n": clean_name, "u": clean_url, "s": secret, "now": now, "by": created_by},
    ).scalar_one()
    return CreatedEndpoint(endpoint=get_endpoint(conn=conn, endpoint_id=endpoint_id), secret=secret)


def set_endpoint_enabled(
    *, conn: Connection, endpoint_id: int, enabled: bool
) -> tuple[WebhookEndpoint, WebhookEndpoint]:
    """Enable or disable an endpoint (its queued deliveries wait while disabled)."""
    before = get_endpoint(conn=conn, endpoint_id=endpoint_id)
    conn.execute(
        text("UPDATE webhook_endpoints SET enabled = :on WHERE endpoint_id = :e"),
        {"on": enabled, "e": endpoint_id},
    )
    return before, get_endpoint(conn=conn, endpoint_id=endpoint_id)


def delete_endpoint(*, conn: Connection, endpoint_id: int) -> WebhookEndpoint:
    """Delete an endpoint and, with it, its queued and past deliveries; return what it was."""
    before = get_endpoint(conn=conn, endpoint_id=endpoint_id)
    conn.execute(text("DELETE FROM webhook_endpoints WHERE endpoint_id = :e"), {"e": endpoint_id})
    return before

