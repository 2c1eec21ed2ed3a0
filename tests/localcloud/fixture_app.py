"""Small purpose-built stacks, one per emulated behaviour, synthesized like the real app.

Each sets the configuration its test depends on (retry attempts, event age, batch size, partial
batch reporting, filters, bisect, state machine type), so a test fails when the emulation stops
reading that configuration from the template.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, CfnOutput, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

CODE = Path(__file__).parent / "fixture_lambdas"
MAX_RECEIVE_COUNT = 3
SQS_BATCH_SIZE = 5
STREAM_BATCH_SIZE = 10


def probe(
    stack: Stack, id: str, handler: str, evidence: sqs.Queue, *, timeout: Duration = Duration.seconds(10), **kwargs
) -> lambda_.Function:
    function = lambda_.Function(
        stack,
        id,
        runtime=lambda_.Runtime.PYTHON_3_12,
        handler=f"probe.handler.{handler}",
        code=lambda_.Code.from_asset(str(CODE), exclude=["**/__pycache__"]),
        timeout=timeout,
        environment={"EVIDENCE_QUEUE_URL": evidence.queue_url},
        **kwargs,
    )
    evidence.grant_send_messages(function)
    return function


def async_stack(app: App) -> None:
    stack = Stack(app, "AsyncFixture")
    evidence = sqs.Queue(stack, "Evidence")
    succeeded, failed, dead = sqs.Queue(stack, "Succeeded"), sqs.Queue(stack, "Failed"), sqs.Queue(stack, "DeadLetters")
    probe(
        stack,
        "RetryTwice",
        "async_probe",
        evidence,
        retry_attempts=2,
        on_success=destinations.SqsDestination(succeeded),
        on_failure=destinations.SqsDestination(failed),
        dead_letter_queue=dead,
    )
    probe(stack, "RetryNone", "async_probe", evidence, retry_attempts=0, on_failure=destinations.SqsDestination(failed))
    probe(stack, "OneSecond", "slow", evidence, timeout=Duration.seconds(1))
    probe(
        stack,
        "ShortLived",
        "async_probe",
        evidence,
        retry_attempts=2,
        max_event_age=Duration.seconds(60),
        on_failure=destinations.SqsDestination(failed),
    )


def queue_stack(app: App) -> None:
    stack = Stack(app, "QueueFixture")
    evidence = sqs.Queue(stack, "Evidence")
    for name, reports in (("Reporting", True), ("Ignoring", False)):
        dlq = sqs.Queue(stack, f"{name}DLQ")
        queue = sqs.Queue(
            stack,
            f"{name}Queue",
            visibility_timeout=Duration.seconds(60),
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )
        function = probe(stack, f"{name}Consumer", "batch_probe", evidence)
        function.add_event_source(
            sources.SqsEventSource(queue, batch_size=SQS_BATCH_SIZE, report_batch_item_failures=reports)
        )


def stream_stack(app: App) -> None:
    stack = Stack(app, "StreamFixture")
    evidence, failed = sqs.Queue(stack, "Evidence"), sqs.Queue(stack, "Failed")
    for name, retries, bisect, filtered in (("Bisecting", 1, True, True), ("Plain", 2, False, False)):
        table = dynamodb.Table(
            stack,
            f"{name}Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )
        function = probe(stack, f"{name}Processor", "stream_probe", evidence)
        function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=STREAM_BATCH_SIZE,
                retry_attempts=retries,
                bisect_batch_on_error=bisect,
                on_failure=sources.SqsDlq(failed),
                filters=[lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})]
                if filtered
                else None,
            )
        )
    for position in (lambda_.StartingPosition.LATEST, lambda_.StartingPosition.TRIM_HORIZON):
        name = position.value.title().replace("_", "")  # Latest, TrimHorizon
        table = dynamodb.Table(
            stack,
            f"{name}Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.NEW_IMAGE,
        )
        function = probe(stack, f"{name}Processor", "stream_probe", evidence)
        function.add_event_source(sources.DynamoEventSource(table, starting_position=position, retry_attempts=0))


def workflow_stack(app: App) -> None:
    stack = Stack(app, "WorkflowFixture")
    evidence = sqs.Queue(stack, "Evidence")
    double = probe(stack, "Double", "double", evidence)
    sfn.StateMachine(
        stack,
        "Express",
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_chainable(
            tasks.LambdaInvoke(stack, "DoubleIt", lambda_function=double, payload_response_only=True)
        ),
    )
    approver = probe(stack, "HandOutToken", "hand_out_token", evidence)
    wait = tasks.LambdaInvoke(
        stack,
        "WaitForApproval",
        lambda_function=approver,
        integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
        payload=sfn.TaskInput.from_object({"token": sfn.JsonPath.task_token, "request": sfn.JsonPath.entire_payload}),
        heartbeat_timeout=sfn.Timeout.duration(Duration.minutes(5)),
        task_timeout=sfn.Timeout.duration(Duration.hours(1)),
    )
    # A retried attempt of a waitForTaskToken task is a new task with a new token.
    wait.add_retry(errors=["TransientError"], interval=Duration.seconds(1), max_attempts=2, backoff_rate=1)
    sfn.StateMachine(stack, "Standard", definition_body=sfn.DefinitionBody.from_chainable(wait))


# Three children run inline would take 4.5 s, past the parent's 3 s; the parent's own work (a
# cold start and three invoke calls) keeps seconds of margin on a loaded 2-core machine.
CHILD_SECONDS = 1.5
PARENT_TIMEOUT_SECONDS = 3


def concurrency_stack(app: App) -> None:
    """A parent that fans out to a slower child asynchronously; two functions with different
    environments; an Express machine whose Lambda task reads its environment."""
    stack = Stack(app, "ConcurrencyFixture")
    evidence = sqs.Queue(stack, "Evidence")
    child = probe(stack, "Child", "child", evidence, retry_attempts=0)
    parent = probe(stack, "Parent", "fan_out", evidence, timeout=Duration.seconds(PARENT_TIMEOUT_SECONDS))
    parent.add_environment("CHILD_FUNCTION_NAME", child.function_name)
    child.grant_invoke(parent)
    for colour in ("Red", "Blue", "Green"):
        probe(stack, f"{colour}Reader", "read_environment", evidence).add_environment("COLOUR", colour.lower())
    probe(stack, "RestEcho", "rest_echo", evidence)
    green = stack.node.find_child("GreenReader")
    sfn.StateMachine(
        stack,
        "ReadInTask",
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_chainable(
            tasks.LambdaInvoke(stack, "Read", lambda_function=green, payload_response_only=True)
        ),
    )


def throttle_stack(app: App) -> None:
    """Unreserved functions sharing the account's pool: async ones with a long and a short maximum
    event age, one behind a URL and an Express task, and an SQS consumer with MaximumConcurrency."""
    stack = Stack(app, "ThrottleFixture")
    evidence, failed, dead = sqs.Queue(stack, "Evidence"), sqs.Queue(stack, "Failed"), sqs.Queue(stack, "DeadLetters")
    probe(stack, "Open", "async_probe", evidence, retry_attempts=0)
    probe(
        stack,
        "ShortLived",
        "async_probe",
        evidence,
        retry_attempts=0,
        max_event_age=Duration.seconds(60),
        on_failure=destinations.SqsDestination(failed),
        dead_letter_queue=dead,
    )
    CfnOutput(
        stack,
        "HttpUrl",
        value=probe(stack, "Http", "http", evidence).add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE).url,
    )
    double = probe(stack, "Double", "double", evidence)
    sfn.StateMachine(
        stack,
        "Express",
        state_machine_type=sfn.StateMachineType.EXPRESS,
        definition_body=sfn.DefinitionBody.from_chainable(
            tasks.LambdaInvoke(
                stack, "DoubleIt", lambda_function=double, payload_response_only=True, retry_on_service_exceptions=False
            )
        ),
    )
    queue = sqs.Queue(stack, "Work", visibility_timeout=Duration.seconds(60))
    consumer = probe(stack, "Consumer", "batch_probe", evidence)
    consumer.add_event_source(
        sources.SqsEventSource(
            queue, batch_size=1, max_concurrency=MAPPING_MAX_CONCURRENCY, report_batch_item_failures=True
        )
    )


# Lambda's smallest MaximumConcurrency for an SQS mapping is 2.
MAPPING_MAX_CONCURRENCY = 2
# One unit reserved: an account needs 101 for it, since Lambda keeps 100 unreserved.
RESERVED = 1


def reserved_stack(app: App) -> None:
    """A function reserving one unit of concurrency (async, behind a URL), and an unreserved one."""
    stack = Stack(app, "ReservedFixture")
    evidence = sqs.Queue(stack, "Evidence")
    capped = probe(stack, "Capped", "http", evidence, reserved_concurrent_executions=RESERVED)
    CfnOutput(stack, "CappedUrl", value=capped.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE).url)
    probe(stack, "Unreserved", "double", evidence)


def url_stack(app: App) -> None:
    """One function URL of each auth type, in front of the same HTTP probe."""
    stack = Stack(app, "UrlFixture")
    evidence = sqs.Queue(stack, "Evidence")
    for name, auth in (("Public", lambda_.FunctionUrlAuthType.NONE), ("Private", lambda_.FunctionUrlAuthType.AWS_IAM)):
        url = probe(stack, f"{name}Http", "http", evidence).add_function_url(auth_type=auth)
        CfnOutput(stack, f"{name}Url", value=url.url)


def iam_stack(app: App) -> None:
    """A caller whose role is granted one of each pair (queue, table, topic, function, key prefix)
    and not the other; it holds no s3:ListBucket. A second caller, Lister, may also list the bucket."""
    stack = Stack(app, "IamFixture")

    def caller(id: str) -> lambda_.Function:
        return lambda_.Function(
            stack,
            id,
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="probe.aws_calls.call",
            code=lambda_.Code.from_asset(str(CODE), exclude=["**/__pycache__"]),
            timeout=Duration.seconds(10),
        )

    function = caller("Caller")
    for name in ("Granted", "Withheld"):
        queue = sqs.Queue(stack, f"{name}Queue")
        table = dynamodb.Table(
            stack,
            f"{name}Table",
            partition_key=dynamodb.Attribute(name="id", type=dynamodb.AttributeType.STRING),
            stream=dynamodb.StreamViewType.KEYS_ONLY,
        )
        topic = sns.Topic(stack, f"{name}Topic")
        callee = caller(f"{name}Callee")
        CfnOutput(stack, f"{name}TopicArn", value=topic.topic_arn)
        CfnOutput(stack, f"{name}StreamArn", value=table.table_stream_arn)
        if name == "Granted":
            queue.grant_send_messages(function)
            table.grant_read_write_data(function)
            table.grant_stream(function, "dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:GetRecords")
            topic.grant_publish(function)
            callee.grant_invoke(function)
    bucket = s3.Bucket(stack, "Bucket")
    # objects under granted/ only, and no s3:ListBucket (CDK's grant_read would add s3:List*)
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects("granted/*")])
    )
    # the same object grant, plus s3:ListBucket on the bucket: S3 tells it a key is missing (404)
    lister = caller("Lister")
    lister.add_to_role_policy(
        iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[bucket.arn_for_objects("granted/*")])
    )
    lister.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
    CfnOutput(stack, "BucketName", value=bucket.bucket_name)


def synth(outdir: str) -> str:
    app = App(outdir=outdir, analytics_reporting=False)
    for build in (
        async_stack,
        queue_stack,
        stream_stack,
        workflow_stack,
        concurrency_stack,
        throttle_stack,
        reserved_stack,
        url_stack,
        iam_stack,
    ):
        build(app)
    return app.synth().directory
