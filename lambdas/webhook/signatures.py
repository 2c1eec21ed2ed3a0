"""Webhook signatures as each provider documents them, checked over the exact raw bytes.

Plain functions with no AWS calls. Each returns None when the request is authentic, or the reason
it is not; every missing or malformed piece is a reason (fail closed), an empty key included:
anyone can compute an HMAC with an empty key, so it proves nothing. Comparisons are constant-time.
"""

from __future__ import annotations

import hashlib
import hmac

SLACK_TOLERANCE_SECONDS = 5 * 60


def github_problem(raw: bytes, headers: dict[str, str], secret: bytes) -> str | None:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>` (GitHub, "Validating webhook deliveries")."""
    if not secret:
        return "no secret to verify with"
    signature = headers.get("x-hub-signature-256")
    if not signature:
        return "missing X-Hub-Signature-256"
    expected = "sha256=" + hmac.new(secret, raw, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "signature does not match"
    return None


def slack_problem(raw: bytes, headers: dict[str, str], secret: bytes, now: float) -> str | None:
    """`X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{body}">`, timestamp within 5 minutes.

    (Slack, "Verifying requests from Slack".) An old or future timestamp is a replay.
    """
    if not secret:
        return "no secret to verify with"
    signature = headers.get("x-slack-signature")
    timestamp = headers.get("x-slack-request-timestamp")
    if not signature or not timestamp:
        return "missing X-Slack-Signature or X-Slack-Request-Timestamp"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "timestamp is not a number of seconds"
    if abs(now - int(timestamp)) > SLACK_TOLERANCE_SECONDS:
        return "timestamp is more than 5 minutes away (replay)"
    base = b"v0:" + timestamp.encode() + b":" + raw
    expected = "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        return "signature does not match"
    return None
