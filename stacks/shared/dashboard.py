"""The stack's CloudWatch dashboard, filled in by the shared constructs as they are created.

`dashboard(scope)` is the stack's one dashboard, `Dashboard`, created on first use like the alarm
topic. A stack writes no dashboard code: each shared construct adds a row of graphs for what it
built, so rows follow the order a stack creates its resources, the order data flows through it.

What each construct graphs:
- `PatternFunction`: invocations, errors, throttles; duration p50, p99, max; concurrent executions
  against the reserved limit, when one is set.
- `PatternFunction.add_function_url`: URL requests, 4xx, 5xx; URL latency average and max.
- `AsyncInvoke`: events queued, dropped, age of the oldest; delivery failures to the DLQ and destinations.
- `secure_queue` (work queues, dead-letter and failure queues): messages visible; age of the oldest message.
- `consume_stream`: the stream mapping's iterator age.
- `PatternStateMachine`: executions started, succeeded, failed, timed out, aborted, throttled;
  execution time p50, p99, max.
- `PatternRestApi`: requests, 4xx, 5xx; latency p50, p99 and integration latency p99.

The dashboard is named `<stack name>-<region>`: dashboards are global to an account, stack names
are unique per account and region, so two copies of a stack (two names, or one name in two
regions) never collide, and the name is never truncated (CloudFormation allows 255 characters;
a stack name has at most 128). Its name is the stack output `DashboardName`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast

from aws_cdk import Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import IConstruct

from .monitoring import DEFAULT_PERIOD
from .pattern import label

# The dashboard grid is 24 units wide: two graphs a row for most resources, three for functions.
HALF = 12
THIRD = 8
HEIGHT = 6


def dashboard(scope: IConstruct) -> cloudwatch.Dashboard:
    """The stack's dashboard, created on first use."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("Dashboard")
    if existing is not None:
        return cast(cloudwatch.Dashboard, existing)  # the child created below on first use
    created = cloudwatch.Dashboard(stack, "Dashboard", dashboard_name=f"{Aws.STACK_NAME}-{Aws.REGION}")
    CfnOutput(stack, "DashboardName", value=created.dashboard_name, description="This stack's CloudWatch dashboard")
    return created


def add_row(scope: IConstruct, *widgets: cloudwatch.IWidget) -> None:
    """Add `widgets` side by side, below the rows already on the stack's dashboard."""
    dashboard(scope).add_widgets(*widgets)


def graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    right: Sequence[cloudwatch.IMetric] = (),
    *,
    width: int = HALF,
    left_label: str = "count",
    right_label: str | None = None,
    left_annotations: Sequence[cloudwatch.HorizontalAnnotation] | None = None,
) -> cloudwatch.GraphWidget:
    """A line graph; `right` metrics use the right-hand axis, for a second unit."""
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right) or None,
        width=width,
        height=HEIGHT,
        left_y_axis=cloudwatch.YAxisProps(label=left_label, min=0, show_units=False),
        right_y_axis=cloudwatch.YAxisProps(label=right_label, min=0, show_units=False) if right else None,
        left_annotations=list(left_annotations) if left_annotations else None,
    )


class _Measured(Protocol):
    """A resource with CloudWatch metrics of its own (a function, a state machine, an API)."""

    def metric(
        self,
        metric_name: str,
        *,
        statistic: str | None = None,
        period: Duration | None = None,
        label: str | None = None,
    ) -> cloudwatch.Metric: ...


def _sums(resource: _Measured, metrics: dict[str, str]) -> list[cloudwatch.IMetric]:
    """`resource.metric(name)` summed per period, labelled, for each {metric name: label}."""
    return [
        resource.metric(name, statistic="Sum", period=DEFAULT_PERIOD, label=label) for name, label in metrics.items()
    ]


def _percentiles(
    resource: _Measured, metric_name: str, statistics: Sequence[str] = ("p50", "p99", "Maximum")
) -> list[cloudwatch.IMetric]:
    """`resource.metric(metric_name)` once per statistic, labelled with it."""
    return [
        resource.metric(metric_name, statistic=statistic, period=DEFAULT_PERIOD, label=statistic)
        for statistic in statistics
    ]


def show_function(function: lambda_.Function, *, reserved_concurrency: int | None = None) -> None:
    """Invocations, errors and throttles; duration; concurrency against its reserved limit."""
    id = label(function)
    widgets: list[cloudwatch.IWidget] = [
        graph(
            f"{id}: invocations, errors, throttles",
            _sums(function, {"Invocations": "invocations", "Errors": "errors", "Throttles": "throttles"}),
            width=THIRD,
        ),
        graph(f"{id}: duration", _percentiles(function, "Duration"), width=THIRD, left_label="ms"),
    ]
    if reserved_concurrency is not None:
        widgets.append(
            graph(
                f"{id}: concurrent executions",
                [
                    function.metric(
                        "ConcurrentExecutions",
                        statistic="Maximum",
                        period=DEFAULT_PERIOD,
                        label="concurrent executions",
                    )
                ],
                width=THIRD,
                left_annotations=[
                    cloudwatch.HorizontalAnnotation(value=reserved_concurrency, label="reserved concurrency")
                ],
            )
        )
    add_row(function, *widgets)


def show_function_url(function: lambda_.Function) -> None:
    """Requests, 4xx and 5xx answered by the function's URL, and its latency."""
    id = label(function)
    add_row(
        function,
        graph(
            f"{id} URL: requests, 4xx, 5xx",
            _sums(function, {"UrlRequestCount": "requests", "Url4xxCount": "4xx", "Url5xxCount": "5xx"}),
        ),
        graph(
            f"{id} URL: latency", _percentiles(function, "UrlRequestLatency", ("Average", "Maximum")), left_label="ms"
        ),
    )


def show_async_invoke(function: lambda_.Function) -> None:
    """Asynchronous events queued and dropped, the oldest one's age, and failures to hand a failed
    event to the dead-letter queue or the on-failure destination."""
    id = label(function)
    add_row(
        function,
        graph(
            f"{id}: async events",
            _sums(function, {"AsyncEventsReceived": "received", "AsyncEventsDropped": "dropped"}),
            [function.metric("AsyncEventAge", statistic="Maximum", period=DEFAULT_PERIOD, label="oldest event age")],
            right_label="ms",
        ),
        graph(
            f"{id}: failures not delivered",
            _sums(
                function, {"DeadLetterErrors": "to dead-letter queue", "DestinationDeliveryFailures": "to destination"}
            ),
        ),
    )


def show_queue(queue: sqs.IQueue) -> None:
    """Messages waiting, and how long the oldest has waited."""
    add_row(
        queue,
        graph(
            f"{label(queue)}: messages visible, oldest message age",
            [
                queue.metric_approximate_number_of_messages_visible(
                    statistic="Maximum", period=DEFAULT_PERIOD, label="messages visible"
                )
            ],
            [
                queue.metric_approximate_age_of_oldest_message(
                    statistic="Maximum", period=DEFAULT_PERIOD, label="oldest message age"
                )
            ],
            right_label="seconds",
        ),
    )


def show_stream_consumer(function: lambda_.Function, table_id: str) -> None:
    """How far behind the stream the consumer is: the age of the last record it read."""
    add_row(
        function,
        graph(
            f"{label(function)}: iterator age on {table_id}'s stream",
            [function.metric("IteratorAge", statistic="Maximum", period=DEFAULT_PERIOD, label="iterator age")],
            left_label="ms",
        ),
    )


def show_state_machine(state_machine: sfn.StateMachine) -> None:
    """Executions by outcome, and how long they take."""
    id = label(state_machine)
    add_row(
        state_machine,
        graph(
            f"{id}: executions",
            _sums(
                state_machine,
                {
                    "ExecutionsStarted": "started",
                    "ExecutionsSucceeded": "succeeded",
                    "ExecutionsFailed": "failed",
                    "ExecutionsTimedOut": "timed out",
                    "ExecutionsAborted": "aborted",
                    "ExecutionThrottled": "throttled",
                },
            ),
        ),
        graph(f"{id}: execution time", _percentiles(state_machine, "ExecutionTime"), left_label="ms"),
    )


def show_rest_api(api: apigw.RestApi) -> None:
    """Requests and errors by class, and latency (whole request, and the integration alone)."""
    id = label(api)
    add_row(
        api,
        graph(f"{id}: requests, 4xx, 5xx", _sums(api, {"Count": "requests", "4XXError": "4xx", "5XXError": "5xx"})),
        graph(
            f"{id}: latency",
            [
                *_percentiles(api, "Latency", ("p50", "p99")),
                api.metric("IntegrationLatency", statistic="p99", period=DEFAULT_PERIOD, label="integration p99"),
            ],
            left_label="ms",
        ),
    )
