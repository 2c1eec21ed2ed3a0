"""Alarms and where they go.

Each stack gets one SNS topic, `AlarmTopic`, that every alarm of the stack notifies; its ARN is a
stack output so a user can subscribe an email address, a chat integration or a pager to it, and
`-c alarm_email=ops@example.com` subscribes an address at deploy time (settings.alarm_email).

The topic is encrypted with a customer managed KMS key of its own, `AlarmTopicKey`, with rotation
on. Not the AWS-managed SNS key: its key policy cannot be changed, and it does not let CloudWatch
use the key, so every alarm notification would fail ("CloudWatch Alarms does not have
authorization to access the SNS topic encryption key", AWS re:Post knowledge center,
cloudwatch-configure-alarm-sns). The key policy grants the CloudWatch service principal the two
actions publishing to an encrypted topic needs, `kms:Decrypt` and `kms:GenerateDataKey*`, in the
form that article documents. The topic policy grants it `sns:Publish` only on behalf of this
account's alarms in this region (`aws:SourceAccount`, `aws:SourceArn`, as AWS documents for alarm
topics), so no other account's alarm can publish here, and the key encrypts nothing but this topic.
The key statement carries no such condition on purpose: AWS documents none for it, and a condition
CloudWatch's KMS calls do not carry would make every notification fail without a sign but the
alarm history.
"""

from __future__ import annotations

from typing import cast

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from . import settings
from .pattern import PatternConstruct

DEFAULT_PERIOD = Duration.minutes(5)
CLOUDWATCH = "cloudwatch.amazonaws.com"
# What CloudWatch needs of the topic's key to publish an alarm notification to it.
KEY_ACTIONS_FOR_ALARMS = ["kms:Decrypt", "kms:GenerateDataKey*"]
KEY_DELETION_WINDOW = Duration.days(7)  # KMS's minimum: a destroyed sandbox's key is gone within a week


def from_this_accounts_alarms() -> dict[str, dict[str, str]]:
    """The condition that limits a grant to CloudWatch acting for an alarm of this account and region."""
    return {
        "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"},
    }


def alarm_topic(scope: Construct) -> sns.ITopic:
    """The pattern's `existing_alarm_topic` if it was given one, else the stack's alarm topic,
    created on first use (see the module doc)."""
    owner = PatternConstruct.of(scope)
    if owner is not None and owner.existing_alarm_topic is not None:
        return owner.existing_alarm_topic
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("AlarmTopic")
    if existing is not None:
        return cast(sns.ITopic, existing)  # the child created below on first use
    key = kms.Key(
        stack,
        "AlarmTopicKey",
        description=f"Encrypts the alarm topic of stack {stack.stack_name}",
        enable_key_rotation=True,
        pending_window=KEY_DELETION_WINDOW,
        removal_policy=settings.removal_policy(stack),
    )
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsPublishToTheAlarmTopic",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=KEY_ACTIONS_FOR_ALARMS,
            resources=["*"],  # in a key policy, "*" is this key
            # No condition: see the module doc. The topic policy below is what limits the callers.
        )
    )
    topic = sns.Topic(stack, "AlarmTopic", master_key=key, enforce_ssl=True)
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            sid="CloudWatchAlarmsPublish",
            principals=[iam.ServicePrincipal(CLOUDWATCH)],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions=from_this_accounts_alarms(),
        )
    )
    email = settings.alarm_email(stack)
    if email is not None:
        topic.add_subscription(subscriptions.EmailSubscription(email))
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


def function_error_alarms(
    scope: Construct, id: str, function: lambda_.IFunction, *, throttles: bool = True
) -> list[cloudwatch.Alarm]:
    """Errors and throttles of one function: the two signs that work is not getting done.

    `throttles=False` leaves out the throttles alarm, for a function only Lambda's event queue
    invokes: a throttled event waits and is retried there, so a throttle is backpressure, not a
    lost request (AsyncInvoke alarms on the events at risk instead)."""
    alarms = [
        alarm(
            scope,
            f"{id}Errors",
            metric=function.metric_errors(period=DEFAULT_PERIOD, statistic="Sum"),
            threshold=1,
            description=f"{id} raised at least one error in 5 minutes",
        )
    ]
    if throttles:
        alarms.append(
            alarm(
                scope,
                f"{id}Throttles",
                metric=function.metric_throttles(period=DEFAULT_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"{id} was throttled at least once in 5 minutes",
            )
        )
    return alarms
