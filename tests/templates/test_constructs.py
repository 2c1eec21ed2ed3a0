"""The shared construct library on its own: small stacks built here, one per construct.

Each test checks what a construct creates by default, that a caller's props win over its
defaults, and (for the constructs that own a rule) that the rule holds. The stack tests check the
same constructs again as they are used in each pattern.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Template

from stacks.shared import PatternFunction
from tests.conftest import cdk_context
from tests.templates.helpers import resources


@pytest.fixture
def stack() -> Stack:
    return Stack(App(context=cdk_context()), "Probe")


def alarmed_metrics(template: dict) -> list[str]:
    return sorted(a["Properties"]["MetricName"] for a in resources(template, "AWS::CloudWatch::Alarm").values())


def only_function(template: dict) -> dict:
    (function,) = resources(template, "AWS::Lambda::Function").values()
    return function["Properties"]


# PatternFunction ---------------------------------------------------------------------------


def test_function_alarms_on_its_errors_and_throttles_by_default(stack):
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    template = Template.from_stack(stack).to_json()
    assert alarmed_metrics(template) == ["Errors", "Throttles"]
    assert len(function.alarms) == 2
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        assert alarm["Properties"]["Dimensions"] == [
            {"Name": "FunctionName", "Value": {"Ref": stack.get_logical_id(function.node.default_child)}}
        ]
        assert alarm["Properties"]["AlarmActions"], "an alarm nobody hears"


def test_function_alarms_can_be_opted_out_of(stack):
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), alarms=False)
    assert function.alarms == []
    assert resources(Template.from_stack(stack).to_json(), "AWS::CloudWatch::Alarm") == {}


def test_function_defaults_are_overridden_by_the_callers_props(stack):
    role = iam.Role(stack, "OwnRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    log_group = logs.LogGroup(stack, "OwnLogs", retention=logs.RetentionDays.ONE_DAY)
    PatternFunction(
        stack,
        "Fn",
        pattern="api_sync",
        timeout=Duration.seconds(3),
        memory_size=1024,
        role=role,
        log_group=log_group,
        layers=[],
        tracing=lambda_.Tracing.PASS_THROUGH,
        environment={"POWERTOOLS_LOG_LEVEL": "DEBUG", "EXTRA": "1"},
    )
    template = Template.from_stack(stack).to_json()
    props = only_function(template)
    assert props["MemorySize"] == 1024
    assert props["Role"] == {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": stack.get_logical_id(log_group.node.default_child)}
    assert "Layers" not in props
    assert props["TracingConfig"] == {"Mode": "PassThrough"}
    # environment merges over the defaults, the caller winning key by key
    assert props["Environment"]["Variables"] == {
        "POWERTOOLS_SERVICE_NAME": "api_sync",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
        "EXTRA": "1",
    }
    # no default role or log group was created beside the caller's
    assert len(resources(template, "AWS::IAM::Role")) == 1
    assert len(resources(template, "AWS::Logs::LogGroup")) == 1
    assert not [p for p in resources(template, "AWS::IAM::Policy") if "XRayWrite" in p]


def test_function_defaults_apply_when_nothing_is_overridden(stack):
    PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    template = Template.from_stack(stack).to_json()
    props = only_function(template)
    assert (props["MemorySize"], props["Timeout"], props["Handler"]) == (256, 3, "api_sync.handler.main")
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Environment"]["Variables"] == {"POWERTOOLS_SERVICE_NAME": "api_sync", "POWERTOOLS_LOG_LEVEL": "INFO"}
    assert len(props["Layers"]) == 1
    assert "FnXRayWrite" in json.dumps(list(resources(template, "AWS::IAM::Policy")))


# AsyncInvoke -------------------------------------------------------------------------------


def test_async_invoke_sets_retries_age_destinations_dlq_and_alarms(stack):
    from aws_cdk import aws_lambda_destinations as destinations

    from stacks.shared.async_invoke import AsyncInvoke
    from stacks.shared.queues import secure_queue

    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    results = secure_queue(stack, "Results")
    invocation = AsyncInvoke(
        function,
        name="Work",
        event="jobs",
        retry_attempts=1,
        max_event_age=Duration.minutes(10),
        on_success=destinations.SqsDestination(results),
    )
    template = Template.from_stack(stack).to_json()
    ids = {
        q: stack.get_logical_id(q.node.default_child)
        for q in (invocation.failure_queue, invocation.dead_letter_queue, results)
    }
    (config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert (config["Properties"]["MaximumRetryAttempts"], config["Properties"]["MaximumEventAgeInSeconds"]) == (1, 600)
    assert config["Properties"]["DestinationConfig"] == {
        "OnSuccess": {"Destination": {"Fn::GetAtt": [ids[results], "Arn"]}},
        "OnFailure": {"Destination": {"Fn::GetAtt": [ids[invocation.failure_queue], "Arn"]}},
    }
    assert only_function(template)["DeadLetterConfig"] == {
        "TargetArn": {"Fn::GetAtt": [ids[invocation.dead_letter_queue], "Arn"]}
    }
    sends = [
        s
        for p in resources(template, "AWS::IAM::Policy").values()
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if "sqs:SendMessage" in s["Action"]
    ]
    assert {"Fn::GetAtt": [ids[invocation.dead_letter_queue], "Arn"]} in [s["Resource"] for s in sends]
    assert alarmed_metrics(template) == sorted(
        ["ApproximateNumberOfMessagesVisible"] * 2
        + ["DeadLetterErrors", "DestinationDeliveryFailures", "Errors", "Throttles"]
    )


def test_async_invoke_sends_failures_to_a_queue_the_caller_consumes(stack):
    from aws_cdk import aws_sqs as sqs

    from stacks.shared.async_invoke import AsyncInvoke
    from stacks.shared.queues import dead_letter_queue, secure_queue

    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    consumed = secure_queue(
        stack,
        "Consumed",
        dead_letter_queue=sqs.DeadLetterQueue(
            queue=dead_letter_queue(stack, "ConsumedDLQ", holds="records"), max_receive_count=3
        ),
    )
    invocation = AsyncInvoke(function, name="Work", event="jobs", on_failure=consumed)
    template = Template.from_stack(stack).to_json()
    assert invocation.failure_queue is consumed
    (config,) = resources(template, "AWS::Lambda::EventInvokeConfig").values()
    assert config["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [stack.get_logical_id(consumed.node.default_child), "Arn"]}}
    }
    assert not [lid for lid in resources(template, "AWS::SQS::Queue") if lid.startswith("WorkFailures")], (
        "no queue of its own"
    )
    # The consumer empties the queue at once, so the alarm is on records arriving, not waiting.
    (arriving,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "NumberOfMessagesSent"
    ]
    assert arriving["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [stack.get_logical_id(consumed.node.default_child), "QueueName"]}}
    ]
    assert (arriving["Threshold"], arriving["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    assert invocation.alarms and all(a.node.scope is stack for a in invocation.alarms)


def test_a_function_invoked_only_asynchronously_alarms_on_events_at_risk_not_on_throttles(stack):
    # Lambda retries a throttled event until its maximum age: a throttle is backpressure there.
    from stacks.shared.async_invoke import AsyncInvoke

    function = PatternFunction(
        stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), invoked_asynchronously=True
    )
    AsyncInvoke(function, name="Work", event="jobs", max_event_age=Duration.minutes(10))
    template = Template.from_stack(stack).to_json()
    metrics = alarmed_metrics(template)
    assert "Throttles" not in metrics and "Errors" in metrics
    (age,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "AsyncEventAge"
    ]
    assert (age["Namespace"], age["Statistic"], age["ComparisonOperator"]) == (
        "AWS/Lambda",
        "Maximum",
        "GreaterThanOrEqualToThreshold",
    )
    assert 0 < age["Threshold"] < 10 * 60 * 1000  # milliseconds, before the events expire
    assert age["Dimensions"] == [
        {"Name": "FunctionName", "Value": {"Ref": stack.get_logical_id(function.node.default_child)}}
    ]
    assert age["AlarmActions"]


def test_a_function_invoked_synchronously_keeps_its_throttles_alarm_and_gets_no_event_age_alarm(stack):
    from stacks.shared.async_invoke import AsyncInvoke

    AsyncInvoke(
        PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3)), name="Work", event="jobs"
    )
    metrics = alarmed_metrics(Template.from_stack(stack).to_json())
    assert "Throttles" in metrics and "AsyncEventAge" not in metrics


def test_a_function_declared_asynchronous_without_async_invoke_fails_synth(stack):
    PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), invoked_asynchronously=True)
    with pytest.raises(Exception, match="invoked_asynchronously but has no AsyncInvoke"):
        stack.node.root.synth()


def test_async_invoke_refuses_a_consumed_failure_queue_without_a_dlq(stack):
    from stacks.shared.async_invoke import AsyncInvoke
    from stacks.shared.queues import secure_queue

    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    with pytest.raises(ValueError, match="dead-letter queue"):
        AsyncInvoke(function, name="Work", event="jobs", on_failure=secure_queue(stack, "Consumed"))


# consume_stream ----------------------------------------------------------------------------


def test_stream_consumer_is_bounded_filtered_and_reports_failures(stack):
    from aws_cdk import aws_dynamodb as dynamodb

    from stacks.shared.streams import consume_stream
    from stacks.shared.tables import secure_table

    table = secure_table(stack, "Jobs", partition_key="id", stream=dynamodb.StreamViewType.NEW_IMAGE)
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    pending = lambda_.FilterCriteria.filter({"eventName": lambda_.FilterRule.is_equal("INSERT")})
    consumer = consume_stream(function, table, name="Jobs", filters=[pending], batch_size=5)
    template = Template.from_stack(stack).to_json()
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    props = mapping["Properties"]
    assert props["EventSourceArn"] == {"Fn::GetAtt": [stack.get_logical_id(table.node.default_child), "StreamArn"]}
    assert [json.loads(f["Pattern"]) for f in props["FilterCriteria"]["Filters"]] == [{"eventName": ["INSERT"]}]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert (
        props["BatchSize"],
        props["BisectBatchOnFunctionError"],
        props["MaximumRetryAttempts"],
        props["MaximumRecordAgeInSeconds"],
    ) == (5, True, 3, 3600)
    assert props["StartingPosition"] == "TRIM_HORIZON"  # LATEST skips what is written before the first poll
    failure_id = stack.get_logical_id(consumer.failure_queue.node.default_child)
    assert props["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [failure_id, "Arn"]}}}
    assert "IteratorAge" in alarmed_metrics(template) and "ApproximateNumberOfMessagesVisible" in alarmed_metrics(
        template
    )


def test_stream_consumer_reads_only_its_stream_and_lists_streams_in_a_policy_of_its_own(stack):
    from aws_cdk import aws_dynamodb as dynamodb

    from stacks.shared.streams import consume_stream
    from stacks.shared.tables import secure_table
    from tests.templates.helpers import policy_statements

    table = secure_table(stack, "Jobs", partition_key="id", stream=dynamodb.StreamViewType.NEW_IMAGE)
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    consume_stream(function, table, name="Jobs", filters=[])
    template = Template.from_stack(stack).to_json()
    table_id = stack.get_logical_id(table.node.default_child)
    stream_reads = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"}
    found = {}
    for where, statement in policy_statements(template):
        for action in statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]:
            if action.startswith("dynamodb:"):
                found[action] = (where, statement["Resource"])
    assert {a: r for a, (_, r) in found.items() if a in stream_reads} == {
        a: {"Fn::GetAtt": [table_id, "StreamArn"]} for a in stream_reads
    }
    where, resource = found.pop("dynamodb:ListStreams")
    assert resource == "*" and where.startswith("JobsListStreams")  # not in the role's default policy
    assert set(found) == stream_reads
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    assert where in mapping["DependsOn"]


def test_a_consumed_stream_failure_queue_needs_a_dlq_and_alarms_on_records_arriving(stack):
    from aws_cdk import aws_dynamodb as dynamodb
    from aws_cdk import aws_sqs as sqs

    from stacks.shared.queues import dead_letter_queue, secure_queue
    from stacks.shared.streams import consume_stream
    from stacks.shared.tables import secure_table

    table = secure_table(stack, "Jobs", partition_key="id", stream=dynamodb.StreamViewType.NEW_IMAGE)
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    with pytest.raises(ValueError, match="dead-letter queue"):
        consume_stream(function, table, name="Jobs", filters=[], failure_queue=secure_queue(stack, "NoDlq"))
    dlq = dead_letter_queue(stack, "FailuresDLQ", holds="tests")
    failures = secure_queue(stack, "Failures", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
    consumer = consume_stream(function, table, name="Jobs2", filters=[], failure_queue=failures)
    assert consumer.failure_queue is failures
    template = Template.from_stack(stack).to_json()
    (mapping,) = resources(template, "AWS::Lambda::EventSourceMapping").values()
    failures_id = stack.get_logical_id(failures.node.default_child)
    assert mapping["Properties"]["DestinationConfig"] == {
        "OnFailure": {"Destination": {"Fn::GetAtt": [failures_id, "Arn"]}}
    }
    assert "NumberOfMessagesSent" in alarmed_metrics(template)


@pytest.mark.parametrize("retry_attempts", [-1, 10_001])
def test_stream_consumer_refuses_unbounded_retries(stack, retry_attempts):
    from aws_cdk import aws_dynamodb as dynamodb

    from stacks.shared.streams import consume_stream
    from stacks.shared.tables import secure_table

    table = secure_table(stack, "Jobs", partition_key="id", stream=dynamodb.StreamViewType.NEW_IMAGE)
    function = PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3))
    with pytest.raises(ValueError, match="retry_attempts"):
        consume_stream(function, table, name="Jobs", filters=[], retry_attempts=retry_attempts)


# secure_queue ------------------------------------------------------------------------------


def test_a_source_queue_must_keep_messages_shorter_than_its_dlq(stack):
    from aws_cdk import aws_sqs as sqs

    from stacks.shared.queues import DLQ_RETENTION, dead_letter_queue, secure_queue

    dlq = dead_letter_queue(stack, "DLQ", holds="tests")
    with pytest.raises(ValueError, match="shorter than its dead-letter queue"):
        secure_queue(
            stack,
            "Source",
            retention_period=DLQ_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3),
        )
    source = secure_queue(stack, "Ok", dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=3))
    queues = resources(Template.from_stack(stack).to_json(), "AWS::SQS::Queue")
    assert (
        queues[stack.get_logical_id(source.node.default_child)]["Properties"]["MessageRetentionPeriod"] == 4 * 24 * 3600
    )
    assert (
        queues[stack.get_logical_id(dlq.node.default_child)]["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    )


# PatternStateMachine -----------------------------------------------------------------------


def state_machine_app(tmp_path, type_):
    from aws_cdk import aws_stepfunctions as sfn

    from stacks.shared.checks import add_checks
    from stacks.shared.state_machine import PatternStateMachine

    app = App(outdir=str(tmp_path), context=cdk_context())
    stack = Stack(app, "Flow")
    machine = PatternStateMachine(
        stack,
        "Flow",
        definition=sfn.Pass(stack, "Start").next(sfn.Succeed(stack, "Done")),
        state_machine_type=type_,
        timeout=Duration.minutes(5),
        log_level=sfn.LogLevel.ALL,  # test: the payloads are constants
        include_execution_data=True,
    )
    add_checks(app)
    return app, stack, machine


@pytest.mark.parametrize("type_name", ["EXPRESS", "STANDARD"])
def test_state_machine_is_logged_traced_alarmed_and_passes_both_nag_packs(tmp_path, type_name):
    from aws_cdk import aws_stepfunctions as sfn

    app, stack, machine = state_machine_app(tmp_path, getattr(sfn.StateMachineType, type_name))
    app.synth()  # raises if either nag pack or CloudFormation validation finds anything
    report = json.loads((tmp_path / "validation-report.json").read_text())
    assert all(p["conclusion"] == "success" and p["violations"] == [] for p in report["pluginReports"])
    template = json.loads((tmp_path / "Flow.template.json").read_text())
    (props,) = [r["Properties"] for r in resources(template, "AWS::StepFunctions::StateMachine").values()]
    assert props["StateMachineType"] == type_name
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert (
        props["LoggingConfiguration"]["Level"] == "ALL"
        and props["LoggingConfiguration"]["IncludeExecutionData"] is True
    )
    assert '"TimeoutSeconds":300' in json.dumps(props["DefinitionString"]).replace("\\", "").replace(" ", "")
    (log_group,) = resources(template, "AWS::Logs::LogGroup").values()
    assert log_group["Properties"]["LogGroupName"].startswith("/aws/vendedlogs/states/")
    assert log_group["Properties"]["RetentionInDays"] == 30 and log_group["DeletionPolicy"] == "Delete"
    assert alarmed_metrics(template) == ["ExecutionThrottled", "ExecutionsFailed", "ExecutionsTimedOut"]
    assert all(a["Properties"]["AlarmActions"] for a in resources(template, "AWS::CloudWatch::Alarm").values())
    assert len(machine.alarms) == 3


def test_without_its_tracing_and_logging_the_state_machine_fails_both_packs(tmp_path):
    # Proves the packs run on the small app above, and that the construct is what satisfies them.
    from aws_cdk import aws_stepfunctions as sfn

    app, stack, machine = state_machine_app(tmp_path, sfn.StateMachineType.EXPRESS)
    cfn = machine.node.default_child
    cfn.tracing_configuration = None
    cfn.logging_configuration = None
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = json.loads((tmp_path / "validation-report.json").read_text())
    rules = {v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]}
    assert {"AwsSolutions-SF1", "AwsSolutions-SF2", "Serverless-StepFunctionStateMachineXray"} <= rules


def test_a_machine_without_tasks_waits_for_its_logging_policy(tmp_path):
    # Step Functions checks log delivery permissions when it creates a machine with logging. A
    # definition with a Lambda task makes CDK's own grant policy a dependency; one with only Pass
    # states has none, so only an explicit DependsOn keeps the create from racing the policy.
    from aws_cdk import aws_stepfunctions as sfn

    from stacks.shared.state_machine import PatternStateMachine

    stack = Stack(App(context=cdk_context()), "PassOnly")
    machine = PatternStateMachine(
        stack,
        "Flow",
        definition=sfn.Pass(stack, "Only"),
        state_machine_type=sfn.StateMachineType.EXPRESS,
        timeout=Duration.minutes(1),
        log_level=sfn.LogLevel.ERROR,
        include_execution_data=False,
    )
    template = Template.from_stack(stack).to_json()
    (machine_resource,) = resources(template, "AWS::StepFunctions::StateMachine").values()
    policies = resources(template, "AWS::IAM::Policy")
    (logging_policy,) = [
        lid for lid, p in policies.items() if "logs:CreateLogDelivery" in json.dumps(p["Properties"]["PolicyDocument"])
    ]
    assert {"Ref": stack.get_logical_id(machine.role.node.default_child)} in policies[logging_policy]["Properties"][
        "Roles"
    ]
    assert logging_policy in machine_resource.get("DependsOn", [])
