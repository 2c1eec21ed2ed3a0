"""DynamoDB tables with the project's defaults: on-demand, encrypted, point-in-time recovery,
and the stack's removal policy."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from . import settings
from .pattern import overrides_for
from .props import consolidate_props


def secure_table(
    scope: Construct,
    id: str,
    *,
    partition_key: str,
    time_to_live_attribute: str | None = None,
    stream: dynamodb.StreamViewType | None = None,
) -> dynamodb.Table:
    """A table keyed on one string attribute; the pattern's `table_props` override any default (pattern.py)."""
    defaults = {
        "partition_key": dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        "billing_mode": dynamodb.BillingMode.PAY_PER_REQUEST,
        "encryption": dynamodb.TableEncryption.AWS_MANAGED,
        "point_in_time_recovery_specification": dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        "time_to_live_attribute": time_to_live_attribute,
        "stream": stream,
        "removal_policy": settings.removal_policy(scope),
    }
    return dynamodb.Table(scope, id, **consolidate_props(defaults, overrides_for(scope, "table")))
