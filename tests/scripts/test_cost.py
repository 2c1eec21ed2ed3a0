"""scripts/cost.py: what it reads from the templates, and its arithmetic against numbers worked by hand."""

from __future__ import annotations

import aws_cdk as cdk
import pytest
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk.assertions import Template as AssertionsTemplate

from scripts import cost
from tests.templates.helpers import resources

# --- reading the session's templates ---------------------------------------------------------------


def test_reads_a_functions_memory_architecture_and_timeout(templates):
    orders = cost.Template("QueueRedrive", templates["QueueRedrive"]).function("OrdersFunction")
    assert (orders.memory_mb, orders.architecture, orders.timeout_s) == (
        256,
        "arm64",
        30,
    )  # QueueRedriveStack's defaults
    chunk = cost.Template("StandardWorkflow", templates["StandardWorkflow"]).function("ProcessChunkFunction")
    assert (chunk.memory_mb, chunk.architecture, chunk.timeout_s) == (1024, "arm64", 300)
    assert chunk.environment["CHUNK_BYTES"] == str(8 * 1024 * 1024)


def test_a_prefix_must_name_exactly_one_function(templates):
    with pytest.raises(LookupError):
        cost.Template("ExpressWorkflow", templates["ExpressWorkflow"]).function("")  # five functions


def test_reads_the_sqs_mappings_batch_size_and_window(templates):
    template = cost.Template("QueueRedrive", templates["QueueRedrive"])
    mapping = template.mapping(template.function("OrdersFunction").logical_id)
    assert (mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]) == (10, 5)
    assert template.sqs_mappings() == 1
    assert cost.Template("StreamJob", templates["StreamJob"]).sqs_mappings() == 0  # its mapping reads a stream


def test_counts_the_alarms_of_a_stack(templates):
    for stack_id, template in templates.items():
        alarms = resources(template, "AWS::CloudWatch::Alarm")
        assert cost.Template(stack_id, template).alarm_metrics() == len(alarms), stack_id  # no metric-math alarms today


def test_standard_state_transitions_follow_the_happy_path_with_map_items_per_chunk(templates):
    machine = cost.Template("StandardWorkflow", templates["StandardWorkflow"]).state_machine()
    assert machine.type == "STANDARD"
    assert machine.log_level == "ALL"
    # Split, ProcessChunks (the Map), ProcessChunk x items, Merge, WaitForApproval, Publish, Published.
    assert cost.state_transitions(machine.definition, map_items=5) == 11
    assert cost.state_transitions(machine.definition, map_items=1) == 7


def test_express_critical_path_takes_the_slowest_parallel_branch(templates):
    template = cost.Template("ExpressWorkflow", templates["ExpressWorkflow"])
    machine = template.state_machine()
    assert (machine.type, machine.log_level) == ("EXPRESS", "ERROR")
    # Validate, Valid? (a Choice: its Default), CheckOrder (Parallel) with Price, Stock and Fraud, Assemble.
    assert cost.state_transitions(machine.definition, map_items=0) == 7
    ms = {"Validate": 10, "Price": 30, "Stock": 50, "Fraud": 20, "Assemble": 5}
    durations = {template.function(f"{name}Function").logical_id: value for name, value in ms.items()}
    assert cost.critical_path_ms(machine.definition["States"], machine.definition["StartAt"], durations) == 10 + 50 + 5


def test_a_task_tokens_function_is_its_parameters_function_name(templates):
    template = cost.Template("StandardWorkflow", templates["StandardWorkflow"])
    states = template.state_machine().definition["States"]
    assert cost.task_function(states["WaitForApproval"]) == template.function("RequestApprovalFunction").logical_id
    assert cost.task_function(states["Split"]) == template.function("SplitFunction").logical_id
    assert cost.task_function(states["HowDidItEnd"]) is None


def test_every_stack_has_a_model_and_a_pattern_page():
    from app import PATTERNS

    assert list(cost.MODELS) == list(PATTERNS)
    assert set(cost.SECTIONS) == set(PATTERNS)
    for number, (stack_id, page) in enumerate(cost.SECTIONS.items(), start=1):
        path = cost.PAGE.parent / cost.PATTERN_DOCS / page
        title = path.read_text().splitlines()[0]
        assert title.startswith(f"# {number}. {stack_id}: "), (stack_id, title)


def test_each_stack_has_a_section_the_pattern_pages_link_to(templates):
    text = cost.detail_table(cost.price_all(templates, 1_000_000), 1_000_000)
    headings = [line for line in text.splitlines() if line.startswith("### ")]
    assert headings == [f"### {stack_id}" for stack_id in cost.MODELS]
    for stack_id, page in cost.SECTIONS.items():
        assert f"(../cost.md#{stack_id.lower()})" in (cost.PAGE.parent / cost.PATTERN_DOCS / page).read_text()


# --- arithmetic, against hand-computed numbers -----------------------------------------------------


def test_lambda_duration_is_gb_seconds_at_the_arm64_price():
    # 1,000,000 invocations x 0.2 s x 0.25 GB x $0.0000133334 = $0.66667
    assert cost.lambda_compute(1_000_000, 200, 256, "arm64") == pytest.approx(0.66667)
    # billed in whole milliseconds: 200.2 ms is 201 ms
    assert cost.lambda_compute(1_000_000, 200.2, 256, "arm64") == pytest.approx(0.670004, rel=1e-5)
    # x86_64: 1,000,000 x 0.1 s x 1 GB x $0.0000166667 = $1.66667
    assert cost.lambda_compute(1_000_000, 100, 1024, "x86_64") == pytest.approx(1.66667)


def test_express_duration_is_billed_in_100_ms_and_64_mb_steps():
    # 150 ms -> 0.2 s; 64 MB = 0.0625 GB: 1,000,000 x 0.2 x 0.0625 x $0.00001667 = $0.208375
    assert cost.express_duration(1_000_000, 150) == pytest.approx(0.208375)
    # 100 MB -> 128 MB = 0.125 GB, 15 ms -> 0.1 s: 1,000,000 x 0.1 x 0.125 x $0.00001667 = $0.208375
    assert cost.express_duration(1_000_000, 15, memory_mb=100) == pytest.approx(0.208375)


def test_sqs_batches_and_idle_polling():
    assert cost.sqs_idle_polls_per_month() == 648_000  # 5 pollers x 2,592,000 s / 20 s
    assert cost.messages_per_batch(1_000_000, 10, 5) == pytest.approx(1.929, abs=0.001)  # 0.386/s x 5 s
    assert cost.messages_per_batch(1_000_000, 10, 0) == 1
    assert cost.messages_per_batch(100_000_000, 10, 5) == 10  # a full batch caps it


def test_prices_are_the_stated_list_prices():
    assert cost.price("dynamodb_wru") * 1e6 == pytest.approx(0.625)  # on-demand since November 2024
    assert cost.price("dynamodb_rru") * 1e6 == pytest.approx(0.125)
    assert cost.price("sfn_standard_transition") * 1000 == pytest.approx(0.025)
    assert cost.price("apigw_rest_request") * 1e6 == pytest.approx(3.50)


@pytest.fixture(scope="module")
def small_template() -> dict:
    """A stack with one 512 MB arm64 function and one of each fixed-cost resource."""
    app = cdk.App()
    stack = cdk.Stack(app, "Small")
    function = lambda_.Function(
        stack,
        "WorkFunction",
        runtime=lambda_.Runtime.PYTHON_3_13,
        architecture=lambda_.Architecture.ARM_64,
        memory_size=512,
        timeout=cdk.Duration.seconds(10),
        handler="index.main",
        code=lambda_.Code.from_inline("def main(event, context):\n    return None\n"),
    )
    errors = cloudwatch.Alarm(stack, "Errors", metric=function.metric_errors(), threshold=1, evaluation_periods=1)
    rate = cloudwatch.Alarm(
        stack,
        "ErrorRate",
        metric=cloudwatch.MathExpression(
            expression="e / i", using_metrics={"e": function.metric_errors(), "i": function.metric_invocations()}
        ),
        threshold=0.1,
        evaluation_periods=1,
    )
    cloudwatch.CompositeAlarm(stack, "Either", alarm_rule=cloudwatch.AlarmRule.any_of(errors, rate))
    cloudwatch.Dashboard(stack, "Dashboard")
    kms.Key(stack, "TopicKey")
    secretsmanager.Secret(stack, "Secret")
    return AssertionsTemplate.from_stack(stack).to_json()


def test_fixed_monthly_costs_come_from_the_templates_resources(small_template):
    model = cost.Model(event="call", invocations=[])
    priced = cost.cost("Small", cost.Template("Small", small_template), model)
    assert priced.monthly == pytest.approx(
        {
            "alarms": 0.80,  # one alarm of one metric, one of two: 3 x $0.10; a composite alarm $0.50
            "dashboards": 3.00,
            "KMS keys": 1.00,
            "secrets": 0.40,
        }
    )


def test_a_models_cost_per_million_events(small_template):
    model = cost.Model(
        event="call", api_requests=1, dynamodb_wru=2, invocations=[cost.Invocation("WorkFunction", 1, aws_calls=1.5)]
    )
    priced = cost.cost("Small", cost.Template("Small", small_template), model)
    (invocation,) = model.invocations
    assert invocation.duration_ms == 5 + 1.5 * 10  # no work: the assumed overhead and 1.5 calls of 10 ms
    per_million = {item: usd * 1_000_000 for item, usd in priced.per_event.items()}
    assert per_million == pytest.approx(
        {
            "Lambda requests": 0.20,
            "Lambda duration": 0.133334,  # 1,000,000 x 0.02 s x 0.5 GB x $0.0000133334
            "API Gateway REST": 3.50,
            "DynamoDB writes": 1.25,  # 2 x $0.625
            "X-Ray": 5.00,
            "CloudWatch Logs": 0.715256,  # (1 KB + 0.5 KB) x 1,000,000 = 1.430511 GB x $0.50
        },
        rel=1e-5,
    )
    assert priced.total(1_000_000) == pytest.approx(0.20 + 0.133334 + 3.50 + 1.25 + 5.00 + 0.715256 + 5.20, rel=1e-5)


def test_a_duration_over_the_functions_timeout_is_refused(small_template):
    model = cost.Model(event="call", invocations=[cost.Invocation("WorkFunction", 1, aws_calls=1000)])  # 10 s of calls
    with pytest.raises(ValueError, match="timeout"):
        cost.cost("Small", cost.Template("Small", small_template), model)


def test_the_report_prices_every_pattern_from_the_session_templates(templates):
    costs = cost.price_all(templates, 1_000_000)
    by_stack = {c.stack_id: c for c in costs}
    assert set(by_stack) == set(cost.MODELS)
    # The requests a model declares, priced by hand: ApiSync is 1 REST call and 1 invocation an event.
    assert by_stack["ApiSync"].per_event["API Gateway REST"] * 1e6 == pytest.approx(3.50)
    assert by_stack["ApiSync"].per_event["Lambda requests"] * 1e6 == pytest.approx(0.20)
    # StandardWorkflow: 11 transitions a 5-chunk job (40 MB / 8 MiB) x $0.025 per 1,000.
    assert by_stack["StandardWorkflow"].per_event["Step Functions"] * 1e6 == pytest.approx(275.0)
    # ExpressWorkflow: $1 per million requests + a 100 ms, 64 MB run ($0.104188 per million).
    assert by_stack["ExpressWorkflow"].per_event["Step Functions"] * 1e6 == pytest.approx(1.0 + 0.1041875)
    # Webhook's two secrets: $0.80 a month + one read each per 5-minute cache period: 2 x 8,640 x $0.000005.
    assert by_stack["Webhook"].monthly["secrets"] == pytest.approx(0.80 + 0.0864)
    table = cost.summary_table(costs, 1_000_000)
    assert table.count("\n") == 1 + len(cost.MODELS)


# --- the generated page ----------------------------------------------------------------------------


def test_docs_cost_md_is_what_make_cost_writes(templates):
    # The page is generated from the templates and the recorded timings only: any change to a
    # template the model reads, a price or an assumption must come with `make cost`.
    written = cost.PAGE.read_text()
    assert cost.page(cost.price_all(templates, cost.EVENTS_PER_MONTH), cost.EVENTS_PER_MONTH) == written


def test_the_page_reads_recorded_timings_and_times_nothing(templates, monkeypatch):
    def no_timing(*args, **kwargs):
        raise AssertionError("make cost must not time anything: it reads scripts/cost_measurements.json")

    monkeypatch.setattr(cost, "measure_ms", no_timing)
    first = cost.page(cost.price_all(templates, 1_000_000), 1_000_000)
    assert first == cost.page(cost.price_all(templates, 1_000_000), 1_000_000)


def test_a_function_without_a_recorded_timing_says_how_to_record_it():
    measurements = cost.Measurements()
    with pytest.raises(KeyError, match="make cost-measure"):
        measurements.work_ms("NoSuchStack/NoFunction", lambda: None)
