"""Alarms and where they go.

Each stack gets one SNS topic, `AlarmTopic`, that every alarm of the stack notifies; its ARN is a
stack output so a user can subscribe an email address, a chat integration or a pager to it.
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from constructs import Construct

DEFAULT_PERIOD = Duration.minutes(5)


def alarm_topic(scope: Construct) -> sns.ITopic:
    """The stack's alarm topic, created on first use."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("AlarmTopic")
    if existing is not None:
        return existing  # type: ignore[return-value]
    # Unencrypted on purpose: CloudWatch alarms cannot publish to a topic encrypted with the
    # AWS-managed SNS key, and alarm messages carry alarm state only, never payloads.
    topic = sns.Topic(stack, "AlarmTopic", enforce_ssl=True)
    CfnOutput(stack, "AlarmTopicArn", value=topic.topic_arn, description="Subscribe to get this stack's alarms")
    return topic


def alarm(
    scope: Construct,
    id: str,
    *,
    metric: cloudwatch.IMetric,
    threshold: float,
    description: str,
    comparison: cloudwatch.ComparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    evaluation_periods: int = 1,
) -> cloudwatch.Alarm:
    """An alarm that notifies the stack's alarm topic. Missing data counts as healthy."""
    created = cloudwatch.Alarm(
        scope,
        id,
        metric=metric,
        threshold=threshold,
        comparison_operator=comparison,
        evaluation_periods=evaluation_periods,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=description,
    )
    created.add_alarm_action(actions.SnsAction(alarm_topic(scope)))
    return created


def function_error_alarms(scope: Construct, id: str, function) -> list[cloudwatch.Alarm]:
    """Errors and throttles of one function: the two signs that work is not getting done."""
    return [
        alarm(
            scope,
            f"{id}Errors",
            metric=function.metric_errors(period=DEFAULT_PERIOD, statistic="Sum"),
            threshold=1,
            description=f"{id} raised at least one error in 5 minutes",
        ),
        alarm(
            scope,
            f"{id}Throttles",
            metric=function.metric_throttles(period=DEFAULT_PERIOD, statistic="Sum"),
            threshold=1,
            description=f"{id} was throttled at least once in 5 minutes",
        ),
    ]
