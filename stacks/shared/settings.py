"""Project-wide settings, read from CDK context (cdk.json, or `cdk synth -c key=value`).

Every stack reads them through these functions, so a user changes a default in one place.
"""

from __future__ import annotations

import re

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs
from constructs import Construct


def _context(scope: Construct, key: str, default: object) -> object:
    value = scope.node.try_get_context(key)
    return default if value is None else value


def keep_data(scope: Construct) -> bool:
    """`-c keep_data=true` keeps queues, tables, buckets and logs on `cdk destroy`."""
    value = _context(scope, "keep_data", False)
    return value is True or str(value).lower() == "true"


def removal_policy(scope: Construct) -> RemovalPolicy:
    """DESTROY by default, so a sandbox `cdk destroy` leaves nothing behind."""
    return RemovalPolicy.RETAIN if keep_data(scope) else RemovalPolicy.DESTROY


def log_retention(scope: Construct) -> logs.RetentionDays:
    """Retention of every log group the stacks create (`-c log_retention=ONE_WEEK`)."""
    return logs.RetentionDays[str(_context(scope, "log_retention", "ONE_MONTH"))]


def powertools_layer_version(scope: Construct) -> str:
    """`latest`, or a release such as `3.37.0` to match the version the tests ran against."""
    return str(_context(scope, "powertools_layer_version", "latest"))


# An address SNS can deliver to: something@domain.tld, no spaces (SNS confirms it by email).
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def alarm_email(scope: Construct) -> str | None:
    """`-c alarm_email=ops@example.com` subscribes that address to every stack's alarm topic.

    SNS sends it a confirmation email on deploy; alarms reach it once the link in it is followed.
    """
    value = _context(scope, "alarm_email", "")
    address = str(value).strip()
    if not address:
        return None
    if not EMAIL_PATTERN.match(address):
        raise ValueError(f"alarm_email {address!r} is not an email address")
    return address
