"""PatternFunction: a Lambda function with the project's defaults applied once.

Every function in every pattern is built here, so the project's defaults live in one place:
- the newest Python runtime CDK offers, on ARM64, with an explicit timeout and memory size;
- X-Ray active tracing;
- a log group owned by the stack, with retention, removed on `cdk destroy` (see settings.py);
- an execution role whose only built-in permissions are writing to that log group and to X-Ray
  (no managed AWSLambdaBasicExecutionRole); grants such as `queue.grant_consume_messages(fn)`
  add what each pattern needs;
- Powertools for AWS Lambda from its public layer, at the release the tests run against
  (settings.POWERTOOLS_VERSION), resolved at deploy time from the SSM parameter Powertools
  publishes for that release, so synth needs no network and no bundling;
- one code asset per pattern holding `<pattern>/` and `shared/` of the Lambda code directory only
  (code.py says where that is), so a handler path such as `api_sync.handler.main` imports the same
  way in Lambda and in the tests; the handler is named within the pattern's folder (`handler.main`
  by default);
- alarms on its errors and throttles, to the stack's alarm topic (`alarms=False` opts out; a
  function only invoked asynchronously has no throttles alarm: see `invoked_asynchronously`);
- a row on the stack's dashboard (invocations, errors, throttles, duration, concurrency), and one
  for its function URL when `add_function_url` adds one (dashboard.py).

Any default can be overridden by passing the `lambda_.Function` keyword argument of the same
name; the caller's value wins (props.py), and the `function_props` of the pattern holding the
function win over both (pattern.py).
"""

from __future__ import annotations

from typing import Any, cast

import jsii
from aws_cdk import Acknowledgment, Aws, CfnRule, CfnRuleAssertion, Duration, Fn, Stack, Token, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct, IValidation

from . import dashboard, settings
from .code import pattern_code
from .monitoring import function_error_alarms
from .pattern import overrides_for
from .props import consolidate_props

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
DEFAULT_MEMORY_MB = 256
# Public parameters Powertools writes for every release and layer, e.g.
# /aws/service/powertools/python/arm64/python3.14/3.37.0 (or .../latest); the value is the layer ARN.
POWERTOOLS_PARAMETER = "/aws/service/powertools/python/{arch}/{runtime}/{version}"
# The two X-Ray write actions accept no resource-level permissions.
XRAY_WRITE_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def default_log_group(scope: Construct, id: str) -> logs.LogGroup:
    """A log group owned by the stack, with the project's retention and removal policy."""
    return logs.LogGroup(
        scope, id, retention=settings.log_retention(scope), removal_policy=settings.removal_policy(scope)
    )


def default_role(scope: Construct, id: str, *, description: str, log_group: logs.ILogGroup) -> iam.Role:
    """An execution role that may write to `log_group` and nothing else (grants add the rest)."""
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=description,
        inline_policies={
            "WriteOwnLogs": iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                        resources=[log_group.log_group_arn],
                    )
                ]
            )
        },
    )


def default_function_props(
    scope: Construct,
    *,
    pattern: str,
    handler: str,
    log_group: logs.ILogGroup,
    role: iam.IRole,
    layers: list[lambda_.ILayerVersion],
) -> dict[str, Any]:
    """The keyword arguments every function gets unless its caller overrides them.

    Active tracing is not among them: `PatternFunction` sets it so its wildcard X-Ray permission
    stays out of the role's default policy (see `_enable_active_tracing`).
    """
    return {
        "runtime": RUNTIME,
        "architecture": ARCHITECTURE,
        "code": pattern_code(scope, pattern),
        "handler": f"{pattern}.{handler}",
        "memory_size": DEFAULT_MEMORY_MB,
        "role": role,
        "log_group": log_group,
        "layers": layers,
        "environment": {"POWERTOOLS_SERVICE_NAME": pattern, "POWERTOOLS_LOG_LEVEL": "INFO"},
    }


def powertools_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The public Powertools layer for this runtime and architecture, one per stack."""
    stack = Stack.of(scope)
    existing = stack.node.try_find_child("PowertoolsLayer")
    if existing is not None:
        return cast(lambda_.ILayerVersion, existing)  # the child created below on first use
    parameter = POWERTOOLS_PARAMETER.format(
        arch=ARCHITECTURE.name,  # "arm64" or "x86_64", as the parameter path spells them
        runtime=RUNTIME.name,
        version=settings.powertools_layer_version(stack),
    )
    arn = ssm.StringParameter.value_for_string_parameter(stack, parameter)
    layer = lambda_.LayerVersion.from_layer_version_arn(stack, "PowertoolsLayer", arn)
    _deploy_only_where_powertools_publishes(stack)
    return layer


def _deploy_only_where_powertools_publishes(stack: Stack) -> None:
    """A stack that takes the layer fails early outside the regions Powertools publishes it in.

    A region known at synth (`env=`) is checked now. An environment-agnostic stack (the default)
    gets a CloudFormation rule, checked before anything is created, whose one-line description
    says why the change set fails (the missing parameter alone would not) and what to do.
    """
    if not Token.is_unresolved(stack.region):
        problem = settings.powertools_region_problem(stack.region)
        if problem:
            raise ValueError(f"{stack.stack_name}: {problem}")
        return
    CfnRule(
        stack,
        "PowertoolsLayerRegion",
        assertions=[
            CfnRuleAssertion(
                assert_=Fn.condition_contains(list(settings.POWERTOOLS_LAYER_REGIONS), Aws.REGION),
                assert_description=settings.powertools_region_problem("this region") or "",
            )
        ],
    )


@jsii.implements(IValidation)
class _NeedsAsyncInvoke:
    """A function declared `invoked_asynchronously` has AsyncInvoke's alarms in place of its throttles alarm."""

    def __init__(self, function: PatternFunction) -> None:
        self.function = function

    def validate(self) -> list[str]:
        if getattr(self.function, "async_invoke", None) is None:
            return [
                f"{self.function.node.id} is invoked_asynchronously but has no AsyncInvoke: nothing would alarm when "
                "its events are at risk"
            ]
        return []


class PatternFunction(lambda_.Function):
    """A Python Lambda function with the project's defaults, and alarms on its errors and throttles.

    Pass what differs per function: the pattern folder, the timeout, and the handler within the
    pattern's folder when it is not `handler.main`. Every other keyword argument `lambda_.Function`
    accepts overrides the default of the same name (see `default_function_props`): for example
    `memory_size=512`, `role=my_role`, `log_group=my_log_group`, `layers=[...]`, or
    `tracing=lambda_.Tracing.PASS_THROUGH`. `environment` is merged key by key over the defaults
    (the Powertools service name and log level). A role or log group is only created when the
    caller does not pass one; so is the public Powertools layer (and its region rule) when the
    caller passes `layers`.

    `alarms=False` opts out of the `<id>Errors` and `<id>Throttles` alarms, for a function whose
    errors are already alarmed elsewhere; the alarms created are in `self.alarms`.

    `invoked_asynchronously=True` is for a function that only Lambda's event queue invokes
    (`InvocationType=Event`, S3, SNS, EventBridge): Lambda retries a throttled event until its
    maximum age, so throttles there are normal backpressure (a fan-out of more chunks than the
    concurrency available throttles on every batch) and get no `<id>Throttles` alarm. What means
    work is at risk is alarmed instead by `AsyncInvoke`, which such a function must get (synth
    fails otherwise): events nearing their maximum age, and events that failed or expired.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        pattern: str,
        timeout: Duration,
        handler: str = "handler.main",
        alarms: bool = True,
        invoked_asynchronously: bool = False,
        **overrides: Any,
    ) -> None:
        overrides = consolidate_props(
            {"timeout": timeout, **overrides}, overrides_for(scope, "function"), merge_keys=["environment"]
        )
        log_group = overrides.get("log_group") or default_log_group(scope, f"{id}Logs")
        role = overrides.get("role") or default_role(
            scope, f"{id}Role", description=f"Execution role of {id}", log_group=log_group
        )
        # A caller's own layers (say, Powertools bundled for a region without the public layer)
        # replace the public one entirely: no layer parameter, no region rule.
        layers = overrides.get("layers") or [powertools_layer(scope)]
        props = consolidate_props(
            default_function_props(
                scope, pattern=pattern, handler=handler, log_group=log_group, role=role, layers=layers
            ),
            overrides,
            merge_keys=["environment"],
        )
        super().__init__(scope, id, **props)
        if "tracing" not in overrides:
            self._enable_active_tracing(scope, id, props["role"])
        self.invoked_asynchronously = invoked_asynchronously
        self.alarms: list[cloudwatch.Alarm] = (
            function_error_alarms(scope, id, self, throttles=not invoked_asynchronously) if alarms else []
        )
        if invoked_asynchronously:
            self.node.add_validation(_NeedsAsyncInvoke(self))
        dashboard.show_function(self, reserved_concurrency=overrides.get("reserved_concurrent_executions"))

    def add_function_url(self, **options: Any) -> lambda_.FunctionUrl:
        """`lambda_.Function.add_function_url`, with the URL's requests, errors and latency on the dashboard."""
        url = super().add_function_url(**options)
        dashboard.show_function_url(self)
        return url

    def _enable_active_tracing(self, scope: Construct, id: str, role: iam.IRole) -> None:
        """Active X-Ray tracing, with its wildcard permission kept out of the default policy.

        `tracing=Tracing.ACTIVE` would add the X-Ray actions on `*` to the role's DefaultPolicy,
        the policy every `grant_*` call writes to; acknowledging the wildcard there would also hide
        a wildcard some later grant adds. Here the two actions get a policy of their own, and only
        that policy carries the acknowledgment.
        """
        cfn_function = cast(lambda_.CfnFunction, self.node.default_child)
        cfn_function.tracing_config = lambda_.CfnFunction.TracingConfigProperty(mode="Active")
        xray = iam.Policy(
            scope,
            f"{id}XRayWrite",
            roles=[role],
            statements=[iam.PolicyStatement(actions=XRAY_WRITE_ACTIONS, resources=["*"])],
        )
        Validations.of(xray).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-IAM5[Resource::*]",
                reason="xray:PutTraceSegments and xray:PutTelemetryRecords support no "
                "resource-level permissions; this policy holds only those two actions.",
            )
        )
        self.node.add_dependency(xray)

    def invoked_synchronously_by(self, caller: str) -> None:
        """Record that only `caller` invokes this function, and only synchronously.

        A dead-letter queue catches failed *asynchronous* invocations; a synchronous caller
        receives the error itself, so the Serverless pack's DLQ rule does not apply.
        """
        Validations.of(self).acknowledge(
            Acknowledgment(
                id="Serverless::Serverless-LambdaDLQ",
                reason=f"Invoked synchronously by {caller}, which receives every error itself; "
                "a dead-letter queue only ever receives failed asynchronous invocations.",
            )
        )
