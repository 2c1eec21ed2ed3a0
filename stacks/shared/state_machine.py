"""PatternStateMachine: a Step Functions state machine with the project's defaults.

- `definition` (any chainable: a state or a chain) and `state_machine_type` (EXPRESS or STANDARD);
- a log group under `/aws/vendedlogs/states/` (where Step Functions' vended logs must go to keep
  the log group's resource policy small), with the project's retention and removal policy;
- `log_level` and `include_execution_data` as props, with no default: execution data can hold
  payloads, so the caller decides, and states why in a comment beside the call (cdk-nag's
  AwsSolutions-SF1 wants `LogLevel.ALL`; anything less needs an acknowledgment with a reason);
- X-Ray tracing;
- an explicit `timeout` (a Standard execution would otherwise run up to a year);
- alarms on ExecutionsFailed, ExecutionsTimedOut and ExecutionThrottled to the stack's alarm
  topic (`self.alarms`), and a row on the stack's dashboard (executions by outcome, execution time).
Any other `sfn.StateMachine` prop overrides the default of the same name.

The tasks of a machine, written once for every workflow:
- `task_function`: a PatternFunction that only the machine invokes (synchronously);
- `lambda_task`: a LambdaInvoke task whose result is the function's return value, retried on
  transient errors only, with a `TaskRetry` policy (attempts, interval, backoff, cap, jitter);
- `acknowledge_task_qualifiers`: the one finding each Lambda task brings, acknowledged per function.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from . import dashboard, settings
from .checks import as_nag_renders
from .function import XRAY_WRITE_ACTIONS, PatternFunction
from .monitoring import DEFAULT_PERIOD, alarm
from .pattern import path_in_stack
from .props import consolidate_props

VENDED_LOGS_PREFIX = "/aws/vendedlogs/states/"
# What a Lambda task retries: Lambda's own service errors and throttling, and what a handler raises
# as TransientError (lambdas/shared/errors.py). Nothing else: bad data or a bug fails the same way
# every time, so a retry only delays the catch.
TRANSIENT_TASK_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "TransientError",
]
THROTTLED_TASK_ERROR = "Lambda.TooManyRequestsException"  # the function had no concurrency free
# What Step Functions needs to deliver logs to CloudWatch Logs; none takes a resource ARN.
LOG_DELIVERY_ACTIONS = [
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
]


class PatternStateMachine(sfn.StateMachine):
    """A logged, traced, alarmed state machine with a timeout."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        definition: sfn.IChainable,
        state_machine_type: sfn.StateMachineType,
        timeout: Duration,
        log_level: sfn.LogLevel,
        include_execution_data: bool,
        **overrides: Any,
    ) -> None:
        self.log_group = logs.LogGroup(
            scope,
            f"{id}Logs",
            log_group_name=VENDED_LOGS_PREFIX
            + "-".join([Stack.of(scope).stack_name, *path_in_stack(scope), id]),  # unique per stack and pattern
            retention=settings.log_retention(scope),
            removal_policy=settings.removal_policy(scope),
        )
        props = consolidate_props(
            {
                "definition_body": sfn.DefinitionBody.from_chainable(definition),
                "state_machine_type": state_machine_type,
                "timeout": timeout,
                "removal_policy": settings.removal_policy(scope),
            },
            overrides,
        )
        super().__init__(scope, id, **props)
        self._log_and_trace(scope, id, log_level=log_level, include_execution_data=include_execution_data)
        self.alarms: list[cloudwatch.Alarm] = [
            alarm(
                scope,
                f"{id}{name}",
                metric=metric(period=DEFAULT_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"{id}: at least one execution {what} in 5 minutes",
            )
            for name, metric, what in (
                ("ExecutionsFailed", self.metric_failed, "failed"),
                ("ExecutionsTimedOut", self.metric_timed_out, "timed out"),
                ("ExecutionThrottled", self.metric_throttled, "was throttled"),
            )
        ]
        dashboard.show_state_machine(self)

    def _log_and_trace(
        self, scope: Construct, id: str, *, log_level: sfn.LogLevel, include_execution_data: bool
    ) -> None:
        """Logging and X-Ray tracing, with their wildcard permissions kept out of the default policy.

        `logs=` and `tracing_enabled=True` would add the log-delivery and X-Ray actions on `*` to
        the role's DefaultPolicy, where every `grant_*` (a task's `grant_invoke`) also writes;
        acknowledging the wildcard there would hide a wildcard a later grant adds. As with
        PatternFunction's tracing, these actions get a policy of their own, the only one
        acknowledged, and the state machine waits for it.
        """
        cfn = cast(sfn.CfnStateMachine, self.node.default_child)
        cfn.tracing_configuration = sfn.CfnStateMachine.TracingConfigurationProperty(enabled=True)
        cfn.logging_configuration = sfn.CfnStateMachine.LoggingConfigurationProperty(
            level=log_level.value,
            include_execution_data=include_execution_data,
            destinations=[
                sfn.CfnStateMachine.LogDestinationProperty(
                    cloud_watch_logs_log_group=sfn.CfnStateMachine.CloudWatchLogsLogGroupProperty(
                        log_group_arn=self.log_group.log_group_arn
                    )
                )
            ],
        )
        policy = iam.Policy(
            scope,
            f"{id}LogsAndTracing",
            roles=[self.role],
            statements=[iam.PolicyStatement(actions=[*LOG_DELIVERY_ACTIONS, *XRAY_WRITE_ACTIONS], resources=["*"])],
        )
        # Step Functions checks log delivery permissions when it creates the machine: without this,
        # a definition with no task (so no grant policy CDK makes it wait for) races the policy.
        cfn.node.add_dependency(policy)
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="CloudWatch Logs vended log delivery actions and the X-Ray write actions support no "
                "resource-level permissions (Step Functions logging and tracing docs); this policy holds only those.",
            )
        )


@dataclass(frozen=True)
class TaskRetry:
    """How a task retries: `attempts` after the first, `interval` before the first retry, growing by
    `backoff_rate`, capped at `max_delay` (if set), with `jitter` (if set); on TRANSIENT_TASK_ERRORS
    and the errors in `also_on`. `throttled` (if set): how Lambda's throttling
    (`Lambda.TooManyRequestsException`) is retried instead, in a retrier of its own listed first:
    throttling lasts as long as the burst that fills the account's concurrency, not as long as a
    passing fault, so it may warrant more attempts than the other transient errors."""

    attempts: int
    interval: Duration
    backoff_rate: float = 2
    max_delay: Duration | None = None
    jitter: sfn.JitterType | None = None
    also_on: Sequence[str] = ()
    throttled: TaskRetry | None = None

    def apply(self, task: sfn.TaskStateBase) -> None:
        errors = [*TRANSIENT_TASK_ERRORS, *self.also_on]
        if self.throttled is not None:
            self.throttled._add(task, [THROTTLED_TASK_ERROR])
            errors.remove(THROTTLED_TASK_ERROR)
        self._add(task, errors)

    def _add(self, task: sfn.TaskStateBase, errors: list[str]) -> None:
        task.add_retry(
            errors=errors,
            interval=self.interval,
            max_attempts=self.attempts,
            backoff_rate=self.backoff_rate,
            max_delay=self.max_delay,
            jitter_strategy=self.jitter,
        )


def task_function(scope: Construct, id: str, *, machine: str, **props: Any) -> PatternFunction:
    """A PatternFunction that only the state machine `machine` invokes, as a task (synchronously)."""
    function = PatternFunction(scope, id, **props)
    function.invoked_synchronously_by(f"the {machine} state machine")
    return function


def lambda_task(
    scope: Construct,
    id: str,
    function: lambda_.IFunction,
    *,
    retry: TaskRetry,
    payload: dict[str, Any] | None = None,
    **options: Any,
) -> tasks.LambdaInvoke:
    """A Lambda task whose output is the function's return value, retried by `retry` only.

    `payload` is the function's event (None: the state's input). CDK's default retry on Lambda's
    service errors (up to 2+4+...+64 s of waiting) is off: `retry` replaces it, and adds
    TransientError. `options` are any other LambdaInvoke props (`task_timeout`, `result_path`...).
    """
    task = tasks.LambdaInvoke(
        scope,
        id,
        lambda_function=function,
        payload=None if payload is None else sfn.TaskInput.from_object(payload),
        payload_response_only=True,
        retry_on_service_exceptions=False,
        **options,
    )
    retry.apply(task)
    return task


def acknowledge_task_qualifiers(machine: sfn.StateMachine, functions: Iterable[lambda_.IFunction]) -> None:
    """CDK's LambdaInvoke grants the machine lambda:InvokeFunction on each task's function and on
    `<function ARN>:*` (its versions and aliases). That wildcard is acknowledged per function, on
    the machine's default policy, so a wildcard any other grant adds there still fails the checks."""
    policy = machine.role.node.find_child("DefaultPolicy")
    for function in functions:
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{as_nag_renders(policy, function.function_arn)}:*]",
                reason=f"lambda:InvokeFunction on {function.node.id}'s versions and aliases, as CDK's "
                "LambdaInvoke grants it; the wildcard covers qualifiers of this one function only.",
            )
        )
