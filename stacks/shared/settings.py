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


KEEP_DATA_CONTEXT = "keep_data"


def keep_data(scope: Construct) -> bool:
    """`-c keep_data=true` keeps queues, tables, buckets and logs on `cdk destroy`.

    A pattern construct's `removal_policy` sets this for what it holds (pattern.py)."""
    value = _context(scope, KEEP_DATA_CONTEXT, False)
    return value is True or str(value).lower() == "true"


def removal_policy(scope: Construct) -> RemovalPolicy:
    """DESTROY by default, so a sandbox `cdk destroy` leaves nothing behind."""
    return RemovalPolicy.RETAIN if keep_data(scope) else RemovalPolicy.DESTROY


def log_retention(scope: Construct) -> logs.RetentionDays:
    """Retention of every log group the stacks create (`-c log_retention=ONE_WEEK`)."""
    return logs.RetentionDays[str(_context(scope, "log_retention", "ONE_MONTH"))]


# The Powertools release the deployed layer must be: the one the tests run against
# (requirements-dev.txt, constraints.txt). tests/templates/test_powertools_pin.py fails when they differ.
POWERTOOLS_VERSION = "3.37.0"


# The regions where Powertools publishes its layer parameters (/aws/service/powertools/...): its
# release workflow writes one per region in this list, and nowhere else (no China, no GovCloud
# parameters). A stack whose functions take the layer deploys only here; elsewhere CloudFormation
# cannot resolve the parameter and refuses the change set with an error that does not say why.
POWERTOOLS_LAYER_REGIONS = (
    "af-south-1",
    "ap-east-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
)


def powertools_region_problem(region: str) -> str | None:
    """Why a stack with the Powertools layer cannot deploy to `region`, in one line, or None."""
    if region in POWERTOOLS_LAYER_REGIONS:
        return None
    return (
        f"Powertools for AWS Lambda publishes no layer parameter in {region}, so the functions' layer cannot "
        "be resolved there: deploy to a region in POWERTOOLS_LAYER_REGIONS (the construct library's "
        "shared/settings.py), or give the functions a layer of your own (layers=[...])"
    )


def powertools_layer_version(scope: Construct) -> str:
    """The Powertools layer release, `POWERTOOLS_VERSION` unless `-c powertools_layer_version=...`.

    A release number (`3.37.0`) pins the layer; `latest` follows new releases untested.
    """
    value = str(_context(scope, "powertools_layer_version", POWERTOOLS_VERSION))
    if value != "latest" and not re.fullmatch(r"\d+\.\d+\.\d+", value):
        raise ValueError(
            f"powertools_layer_version must be a release such as {POWERTOOLS_VERSION} or 'latest', not {value!r}"
        )
    return value


def account_setup(scope: Construct) -> bool:
    """`-c account_setup=false` leaves the AccountSetup stack out of the app, for an account
    whose API Gateway CloudWatch role is already set and managed elsewhere."""
    value = _context(scope, "account_setup", True)
    return value is True or str(value).lower() == "true"


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
