"""Pattern 4, ExpressWorkflow: short, high-volume, multi-step work that a caller waits for.

    client --SigV4--> API Gateway (REST, IAM auth, request model)
        --AWS integration: states:StartSyncExecution--> Express state machine:
            Validate -> valid? --no--> Succeed(Rejected, outcome "rejected")     -> 400
                              --yes-> Parallel(Price | Stock | Fraud) -> Assemble -> 200
        a failed run -> 502, a timeout -> 504, a refused start -> 502/503

No Lambda function sits in the request path just to start the workflow: API Gateway calls
StartSyncExecution itself, with a role that may do only that, on this machine only. The mapping
templates (stacks/express_workflow_templates/) turn the body into the execution input and the
execution's result into the answer; StartSyncExecution answers HTTP 200 whatever the run's outcome,
so the response template alone decides the status code, and a failed run is never a 200. A
rejected order is a successful run (its output says "rejected"): a failed execution, and the alarm
on it, always means something broke, never that a client sent a bad order.
Each task retries only transient errors (Lambda's own, throttling, TransientError) and its own
timeout (a cold start that overran), with jittered backoff; every retry of every stage fits in the
machine's timeout, which stays under API Gateway's 29-second integration timeout.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, CfnOutput, Duration, Stack, Validations
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .express_workflow_templates import load, response
from .shared import PatternFunction, PatternRestApi
from .shared.api import API_GATEWAY_INTEGRATION_LIMIT, line_items_schema
from .shared.code import pattern_names
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.state_machine import (
    PatternStateMachine,
    TaskRetry,
    acknowledge_task_qualifiers,
    lambda_task,
    task_function,
)

PATTERN = "express_workflow"


# The shape of POST /orders/check, checked by API Gateway before anything runs: fields, types,
# lengths, counts and the money format of lambdas/shared/commerce.py (MONEY_PATTERN; the template
# tests hold the two to each other). Known values (currencies) are the Validate state's to check,
# so a well-formed but unacceptable order reaches the Rejected state and comes back as a 400 with details.
MAX_LINE_ITEMS = 50
ORDER_REQUEST_SCHEMA = apigw.JsonSchema(
    schema=apigw.JsonSchemaVersion.DRAFT4,
    title="OrderCheckRequest",
    type=apigw.JsonSchemaType.OBJECT,
    required=["customer_id", "currency", "items"],
    additional_properties=False,
    properties={
        "customer_id": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING, min_length=1, max_length=64),
        "currency": apigw.JsonSchema(type=apigw.JsonSchemaType.STRING),
        "items": line_items_schema(max_items=MAX_LINE_ITEMS),
    },
)


# How long a task function's cold start can take (256 MB, arm64, Python 3.14, the Powertools layer).
# Measured: a cold import of express_workflow.handler with the function's Lambda environment (as
# scripts/bench.py measures it) takes about 150 ms of CPU on one x86 core, the interpreter's own
# start about 11 ms, the handler's first call under 1 ms. Lambda gives a function CPU in proportion
# to its memory, one vCPU at 1,769 MB: 256 MB gets about 0.145 of one, so those 161 ms of CPU take
# about 1.1 s; 1.7 s if a Graviton core runs this Python 1.5x slower than the measuring one; about
# 2.5 s with the runtime's own start and the download of code and layer, which Lambda publishes no
# figure for. The task timeout must leave a margin over this estimate.
COLD_START_ESTIMATE_SECONDS = 2.5
# The run's task stages one after another: Validate, CheckOrder (its three branches side by side),
# Assemble. Each may take every attempt its retry allows, each attempt up to the task timeout.
SEQUENTIAL_TASK_STAGES = 3
RETRY_INTERVAL = Duration.seconds(1)
RETRY_BACKOFF_RATE = 2.0
RETRY_MAX_DELAY = Duration.seconds(1)


def worst_case_run(task_timeout: Duration, retry_attempts: int) -> float:
    """Seconds a run takes when every stage uses every attempt up to the task timeout, with the
    longest backoff before each retry (full jitter waits between 0 and this)."""
    delays = sum(
        min(RETRY_INTERVAL.to_seconds() * RETRY_BACKOFF_RATE**attempt, RETRY_MAX_DELAY.to_seconds())
        for attempt in range(retry_attempts)
    )
    return SEQUENTIAL_TASK_STAGES * ((1 + retry_attempts) * task_timeout.to_seconds() + delays)


class ExpressWorkflow(PatternConstruct):
    """REST API -> StartSyncExecution -> Express workflow of Lambda tasks: `POST /orders/check`.

    Attributes: `api`, `state_machine`, and one function per task: `validate_function`, `price_function`,
    `stock_function`, `fraud_function`, `assemble_function`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workflow_timeout: Duration = Duration.seconds(28),
        task_timeout: Duration = Duration.seconds(4),
        function_timeout: Duration = Duration.seconds(2),
        retry_attempts: int = 1,
        max_fraud_score: int = 60,
        memory_size: int = 256,
        throttling_rate_limit: float = 100,
        throttling_burst_limit: int = 200,
        latency_alarm_threshold_ms: float = 3000,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)
        if workflow_timeout.to_seconds() >= API_GATEWAY_INTEGRATION_LIMIT.to_seconds():
            raise ValueError(
                "workflow_timeout must be under API Gateway's 29 s integration timeout, or the client gets a gateway "
                "timeout instead of a 504 naming the workflow"
            )
        if task_timeout.to_seconds() < 1.5 * COLD_START_ESTIMATE_SECONDS:
            raise ValueError(
                f"task_timeout must leave a margin over a cold start ({COLD_START_ESTIMATE_SECONDS} s): at least 1.5x "
                "that"
            )
        if function_timeout.to_seconds() >= task_timeout.to_seconds():
            raise ValueError(
                "function_timeout must be shorter than task_timeout, so a task's timeout means its cold start overran"
            )
        if worst_case_run(task_timeout, retry_attempts) > workflow_timeout.to_seconds():
            raise ValueError(
                f"{SEQUENTIAL_TASK_STAGES} stages of {1 + retry_attempts} attempts of up to "
                f"{task_timeout.to_seconds()} s and their "
                f"backoff ({worst_case_run(task_timeout, retry_attempts)} s) do not fit in workflow_timeout "
                f"({workflow_timeout.to_seconds()} s)"
            )

        # Client -> API Gateway: signed requests only, throttled, logged, traced.
        self.api = PatternRestApi(
            self,
            "Api",
            description="ExpressWorkflow order check API",
            throttling_rate_limit=throttling_rate_limit,
            throttling_burst_limit=throttling_burst_limit,
            latency_alarm_threshold_ms=latency_alarm_threshold_ms,
        )

        # The workflow's tasks: one function per state, all invoked synchronously by Step Functions.
        # The function's timeout bounds its handler (a cold start's init is not counted in it); the
        # task's, longer, bounds the whole invocation, cold start included.
        def function(fn_id: str, handler: str, description: str, **overrides: Any) -> PatternFunction:
            return task_function(
                self,
                fn_id,
                machine="ExpressWorkflow",
                pattern=PATTERN,
                handler=handler,
                description=description,
                timeout=function_timeout,
                memory_size=memory_size,
                **overrides,
            )

        self.validate_function = function(
            "ValidateFunction", "handler.validate", "Validates an order (ExpressWorkflow)"
        )
        self.price_function = function("PriceFunction", "handler.price", "Prices an order's lines (ExpressWorkflow)")
        self.stock_function = function("StockFunction", "handler.stock", "Checks stock for an order (ExpressWorkflow)")
        self.fraud_function = function(
            "FraudFunction", "handler.fraud", "Scores an order's fraud risk (ExpressWorkflow)"
        )
        self.assemble_function = function(
            "AssembleFunction",
            "handler.assemble",
            "Assembles the order check's answer (ExpressWorkflow)",
            environment={names.MAX_FRAUD_SCORE_ENV: str(max_fraud_score)},
        )

        # States.Timeout too: the invocation, cold start included, overran the task timeout. A cold
        # start that overran once is transient (the retry finds the environment warm, or starts
        # another), and each task is pure computation, safe to run twice.
        retry = TaskRetry(
            attempts=retry_attempts,
            interval=RETRY_INTERVAL,
            backoff_rate=RETRY_BACKOFF_RATE,
            max_delay=RETRY_MAX_DELAY,
            jitter=sfn.JitterType.FULL,
            also_on=[sfn.Errors.TIMEOUT],
        )

        def task(state_id: str, function: lambda_.IFunction) -> tasks.LambdaInvoke:
            return lambda_task(self, state_id, function, retry=retry, task_timeout=sfn.Timeout.duration(task_timeout))

        # The workflow, in the order it runs: Validate -> Valid? -> Rejected (a Succeed: a client's bad
        # order is not a failed run), or CheckOrder (Price, Stock and Fraud in parallel) -> Assemble.
        # A rejection ({"outcome": "rejected", "error", "message", "details"}, written by the Validate
        # function) is the run's output; response.vtl answers it with a 400.
        validate = task("Validate", self.validate_function)
        # Each branch gets {"order": ...}; the Parallel's output adds "results": [pricing, stock, fraud].
        checks = sfn.Parallel(self, "CheckOrder", parameters={"order.$": "$.order"}, result_path="$.results")
        for state_id, checker in (
            ("Price", self.price_function),
            ("Stock", self.stock_function),
            ("Fraud", self.fraud_function),
        ):
            checks.branch(task(state_id, checker))
        assemble = task("Assemble", self.assemble_function)
        rejected = sfn.Succeed(self, "Rejected", output_path="$.rejection")
        definition = validate.next(
            sfn.Choice(self, "Valid?")
            .when(sfn.Condition.boolean_equals("$.valid", False), rejected)
            .otherwise(checks.next(assemble))
        )

        self.state_machine = PatternStateMachine(
            self,
            "OrderCheck",
            definition=definition,
            state_machine_type=sfn.StateMachineType.EXPRESS,
            timeout=workflow_timeout,
            # Express executions keep no history in Step Functions: these logs are the only record of
            # a run. ERROR logs every failed execution (and the failing state's error), which is what
            # an operator needs, at a fraction of ALL's cost at high volume (each event is billed
            # CloudWatch Logs ingestion). Execution data stays out: inputs and outputs are orders with
            # customer ids and prices (personal and commercial data) that the logs should not hold;
            # the API's request id names the execution, which joins the two logs.
            log_level=sfn.LogLevel.ERROR,
            include_execution_data=False,
        )
        self._acknowledge_state_machine_findings()

        # API Gateway -> StartSyncExecution, with a role that may only start this machine synchronously.
        start_role = iam.Role(
            self,
            "StartSyncExecutionRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="Lets API Gateway start the OrderCheck Express machine synchronously, nothing else",
        )
        integration = apigw.StepFunctionsIntegration.start_execution(
            self.state_machine,
            credentials_role=start_role,  # CDK grants states:StartSyncExecution on this machine to it
            # CDK's default response mapping answers a failed run with a 500 whose body is the raw
            # cause, and a timed-out run with a 200: the project's templates replace it.
            request_templates={
                "application/json": load("request.vtl", StateMachineArn=self.state_machine.state_machine_arn)
            },
            integration_responses=[
                apigw.IntegrationResponse(
                    status_code="200", response_templates={"application/json": response(names.REJECTED_OUTCOME)}
                ),
                apigw.IntegrationResponse(
                    status_code="502",
                    selection_pattern=r"[45]\d{2}",  # Step Functions refused the start
                    response_templates={"application/json": load("start_failed.vtl")},
                ),
            ],
            use_default_method_responses=False,
        )

        # Routes: bodies are checked against the request model before the workflow starts.
        order_model = self.api.json_model("OrderCheckRequest", ORDER_REQUEST_SCHEMA)
        self.api.root.add_resource("orders").add_resource("check").add_method(
            "POST",
            integration,
            request_validator=self.api.request_validator,
            request_models={"application/json": order_model},
            method_responses=[
                apigw.MethodResponse(status_code=code, response_models={"application/json": model})
                for code, model in (
                    ("200", apigw.Model.EMPTY_MODEL),
                    ("400", apigw.Model.ERROR_MODEL),
                    ("502", apigw.Model.ERROR_MODEL),
                    ("503", apigw.Model.ERROR_MODEL),
                    ("504", apigw.Model.ERROR_MODEL),
                )
            ],
        )

    def _acknowledge_state_machine_findings(self) -> None:
        machine = self.state_machine
        Validations.of(machine.node.find_child("Resource")).acknowledge(
            Acknowledgment(
                id="AwsSolutions::AwsSolutions-SF1",
                reason="Logs at ERROR without execution data: Express runs at high volume, where ALL bills every "
                "state transition as a log event, and its data are orders (customer ids, prices) the logs should not "
                "hold.",
            )
        )
        acknowledge_task_qualifiers(
            machine,
            (
                self.validate_function,
                self.price_function,
                self.stock_function,
                self.fraud_function,
                self.assemble_function,
            ),
        )


class ExpressWorkflowStack(Stack):
    """ExpressWorkflow in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope, id, **{"description": "ExpressWorkflow: API Gateway -> synchronous Express workflow", **stack_props}
        )
        self.pattern = ExpressWorkflow(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(
            self,
            names.ORDER_CHECK_URL_OUTPUT,
            value=self.pattern.api.url_for_path("/orders/check"),
            description="POST an order here (SigV4)",
        )
        CfnOutput(self, names.STATE_MACHINE_ARN_OUTPUT, value=self.pattern.state_machine.state_machine_arn)
