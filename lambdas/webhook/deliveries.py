"""The slow work of the webhook: summarize one verified delivery. Plain Python, no AWS calls.

Replace `summarize` with your own work (post to Slack, start a build, sync a ticket). It runs in
the function's SQS path, so it may take minutes (up to the function's timeout); if it raises, the
message is received again after its visibility timeout, and after the queue's maxReceiveCount it
moves to the dead-letter queue.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Delivery(BaseModel):
    """What the verified request carried, as the HTTP path hands it to the SQS path."""

    provider: str  # "github" or "slack"
    delivery_id: str  # the provider's id for this delivery, the same on its retries
    event_type: str
    payload: dict[str, Any]


class Summary(BaseModel):
    provider: str
    event_type: str
    action: str | None = None
    repository: str | None = None
    channel: str | None = None
    sender: str | None = None
    item_count: int = 0  # commits of a push, actions of a Slack interaction, 0 otherwise


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _text(value: Any) -> str | None:
    """A non-empty string as UTF-8 can store it: a lone surrogate (JSON can spell one) becomes "?"."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) and value else None


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


def summarize(delivery: Delivery) -> Summary:
    """Provider, event type, repository or channel, action, sender and a count, from any payload shape."""
    payload = delivery.payload
    if delivery.provider == "github":
        return Summary(
            provider="github",
            event_type=delivery.event_type,
            action=_text(payload.get("action")),
            repository=_text(_get(payload, "repository", "full_name")),
            sender=_text(_get(payload, "sender", "login")),
            item_count=_count(payload.get("commits")),
        )
    found = payload.get("event")
    event: dict[str, Any] = found if isinstance(found, dict) else {}
    actions = payload.get("actions")
    first_action = actions[0] if isinstance(actions, list) and actions else None
    return Summary(
        provider="slack",
        event_type=delivery.event_type,
        action=_text(_get(first_action, "action_id")) or _text(event.get("subtype")),
        channel=_text(event.get("channel")) or _text(_get(payload, "channel", "id")),
        sender=_text(event.get("user")) or _text(_get(payload, "user", "id")),
        item_count=_count(payload.get("actions")),
    )
