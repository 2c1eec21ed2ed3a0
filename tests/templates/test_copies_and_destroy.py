"""Two copies of a stack in one account and region, and what `cdk destroy` leaves behind.

- Copies: every stack is instantiated twice in one app, under two long names sharing a
  45-character prefix (`Copy<Stack>ForTheOrdersTeamInStagingOne` / `...Two`). No physical name (a literal, or a
  `Fn::Join`/`Fn::Sub` rendered with the stack's own name, account and region) may be equal
  across the two: S3, Lambda, SQS, DynamoDB, CloudWatch Logs and IAM would reject the second.
- Destroy: in sandbox mode (cdk.json as it is) no resource of any stack is retained or
  snapshotted; with `-c keep_data=true` every stateful resource is retained.
"""

from __future__ import annotations

import json

import pytest
from aws_cdk import App

from app import ACCOUNT_STACKS, PATTERNS
from stacks.shared.buckets import bucket_name_prefix
from tests.conftest import cdk_context
from tests.templates.helpers import resources

STACKS = {**ACCOUNT_STACKS, **PATTERNS}
ACCOUNT_ID, REGION = "123456789012", "ap-southeast-2"
COPIES = ("One", "Two")
# Resources whose data outlives a deploy: kept on destroy with keep_data, removed in a sandbox.
STATEFUL = {
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::KMS::Key",
    "AWS::SecretsManager::Secret",
    "AWS::StepFunctions::StateMachine",  # a Standard workflow's execution history lives in its machine
}
# Names that API Gateway scopes to one API (a model, a stage), not to the account and region.
SCOPED_TO_THEIR_API = {
    ("AWS::ApiGateway::RestApi", "Name"),
    ("AWS::ApiGateway::Model", "Name"),
    ("AWS::ApiGateway::Stage", "StageName"),
}
# Properties named *Name that refer to something else or are not names of a resource.
NOT_NAMES = {
    "MetricName",
    "Namespace",
    "AttributeName",
    "IndexName",
    "PolicyName",
    "ComparisonOperator",
    "ParameterName",
}


def copy_name(stack_id: str, copy: str) -> str:
    return f"Copy{stack_id}ForTheOrdersTeamInStaging{copy}"


@pytest.fixture(scope="module")
def copies(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """stack id -> copy -> template: two copies of every stack, synthesized once with
    `keep_data=true` for both the name tests (names do not depend on it) and the keep_data tests."""
    app = App(
        outdir=str(tmp_path_factory.mktemp("copies")),
        context={**cdk_context(), "keep_data": True},
        analytics_reporting=False,
    )
    for stack_id, stack_class in STACKS.items():
        for copy in COPIES:
            stack_class(app, copy_name(stack_id, copy))
    assembly = app.synth()
    return {
        stack_id: {copy: assembly.get_stack_by_name(copy_name(stack_id, copy)).template for copy in COPIES}
        for stack_id in STACKS
    }


def render(value: object, stack_name: str) -> str:
    """A name as CloudFormation would create it in ACCOUNT_ID/REGION; a reference to one of the
    stack's own resources renders as that resource, which is the stack's own."""
    pseudo = {
        "AWS::StackName": stack_name,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Region": REGION,
        "AWS::Partition": "aws",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{stack_name}/uuid-of-{stack_name}",
    }
    if isinstance(value, (str, int)):
        return str(value)
    assert isinstance(value, dict) and len(value) == 1, value
    ((function, args),) = value.items()
    if function == "Ref":
        return pseudo.get(args, f"<{stack_name}/{args}>")
    if function == "Fn::GetAtt":
        return f"<{stack_name}/{args[0]}.{args[1]}>"
    if function == "Fn::Join":
        return args[0].join(render(part, stack_name) for part in args[1])
    if function == "Fn::Select":
        return render(args[1], stack_name).split("\x00")[int(args[0])]
    if function == "Fn::Split":
        return "\x00".join(render(args[1], stack_name).split(args[0]))
    if function == "Fn::Sub":
        text, variables = (args, {}) if isinstance(args, str) else args
        for key, replacement in {**pseudo, **{k: render(v, stack_name) for k, v in variables.items()}}.items():
            text = text.replace(f"${{{key}}}", replacement)
        return text
    raise AssertionError(f"cannot render {value}")


def physical_names(template: dict, stack_name: str) -> dict[str, str]:
    """rendered name -> where, for every top-level *Name property and every export name."""
    names = {}
    for lid, resource in template["Resources"].items():
        for key, value in resource.get("Properties", {}).items():
            if key.endswith("Name") and key not in NOT_NAMES and (resource["Type"], key) not in SCOPED_TO_THEIR_API:
                names[render(value, stack_name)] = f"{resource['Type']} {lid}.{key}"
    for output_id, output in template.get("Outputs", {}).items():
        if "Export" in output:
            names[render(output["Export"]["Name"], stack_name)] = f"Output {output_id}.Export"
    return names


def test_no_physical_name_is_shared_by_two_copies_whose_names_share_a_long_prefix(copies):
    compared = set()
    for stack_id, per_copy in copies.items():
        one, two = (physical_names(per_copy[copy], copy_name(stack_id, copy)) for copy in COPIES)
        shared = {name: (one[name], two[name]) for name in one.keys() & two.keys()}
        assert shared == {}, f"{stack_id}: the same name in both copies"
        compared |= {(stack_id, where.split(" ")[0]) for name, where in one.items() if "<" not in name}
    # Among those compared: the explicit names the stacks are known to set.
    assert {
        ("EventInvoke", "AWS::S3::Bucket"),
        ("StandardWorkflow", "AWS::S3::Bucket"),
        ("Webhook", "AWS::S3::Bucket"),
        ("ExpressWorkflow", "AWS::Logs::LogGroup"),
        ("StandardWorkflow", "AWS::Logs::LogGroup"),
    } <= compared


def test_derived_bucket_names_fit_s3s_limit_in_the_longest_region(copies):
    for stack_id, per_copy in copies.items():
        for copy, template in per_copy.items():
            for _lid, bucket in resources(template, "AWS::S3::Bucket").items():
                if "BucketName" in bucket["Properties"]:
                    name = render(bucket["Properties"]["BucketName"], copy_name(stack_id, copy))
                    assert 3 <= len(name) <= 63, name
                    assert name == name.lower() and ".." not in name and not name.endswith("-"), name


def test_sandbox_destroy_leaves_nothing_retained_or_snapshotted(templates):
    assert set(templates) == set(STACKS)
    for stack_id, template in templates.items():
        for lid, resource in template["Resources"].items():
            for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
                assert resource.get(policy, "Delete") == "Delete", f"{stack_id}/{lid} {policy}={resource.get(policy)}"


def test_sandbox_buckets_are_emptied_on_destroy(templates):
    buckets = 0
    for stack_id, template in templates.items():
        emptied = {
            r["Properties"]["BucketName"]["Ref"] for r in resources(template, "Custom::S3AutoDeleteObjects").values()
        }
        for lid in resources(template, "AWS::S3::Bucket"):
            buckets += 1
            assert lid in emptied, f"{stack_id}/{lid}: a bucket with objects in it fails to delete"
    assert buckets >= 4


def test_no_stack_publishes_a_layer_version(templates):
    # A LayerVersion is retained by default; the Powertools layer is AWS's public one.
    for stack_id, template in templates.items():
        assert resources(template, "AWS::Lambda::LayerVersion") == {}, stack_id


def test_keep_data_retains_every_stateful_resource(copies):
    found = set()
    for stack_id, per_copy in copies.items():
        template = per_copy["One"]
        for lid, resource in template["Resources"].items():
            if resource["Type"] in STATEFUL:
                found.add(resource["Type"])
                assert resource.get("DeletionPolicy") == "Retain", f"{stack_id}/{lid}"
                assert resource.get("UpdateReplacePolicy") == "Retain", f"{stack_id}/{lid}"
        # A retained bucket keeps its objects: nothing empties it.
        assert resources(template, "Custom::S3AutoDeleteObjects") == {}, stack_id
    assert {"AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Logs::LogGroup"} <= found


def test_keep_data_retains_nothing_but_data(copies):
    for stack_id, per_copy in copies.items():
        for lid, resource in per_copy["One"]["Resources"].items():
            if resource["Type"] not in STATEFUL:
                assert resource.get("DeletionPolicy", "Delete") == "Delete", f"{stack_id}/{lid} ({resource['Type']})"


def test_render_reads_the_intrinsics_the_stacks_use():
    # The renderer the name test depends on, checked against names written out by hand.
    join = {"Fn::Join": ["-", ["a", {"Ref": "AWS::AccountId"}, {"Ref": "AWS::Region"}]]}
    assert render(join, "S") == f"a-{ACCOUNT_ID}-{REGION}"
    assert render({"Fn::Join": ["", [{"Ref": "AWS::StackName"}, "-webhook"]]}, "Copy") == "Copy-webhook"
    assert render({"Fn::Sub": "${AWS::StackName}-x"}, "S") == "S-x"
    stack_id_part = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
    assert render(stack_id_part, "S") == "uuid-of-S"
    assert render({"Ref": "Queue1234"}, "S") != render({"Ref": "Queue1234"}, "T")
    assert json.dumps(render("literal", "S")) == '"literal"'


def test_bucket_name_prefix_keeps_apart_stack_names_that_differ_only_at_the_end():
    west = bucket_name_prefix("OrdersEventInvokeStagingEuropeWest", "uploads")
    east = bucket_name_prefix("OrdersEventInvokeStagingEuropeEast", "uploads")
    assert west != east
    assert west.startswith("orderseventinvoke") and west.endswith("-uploads")
    longest = bucket_name_prefix("A" * 128, "abcdefghijklmno")
    assert len(f"{longest}-{ACCOUNT_ID}-ap-southeast-2") == 63
    # Stable across runs and machines: a changed name would replace the bucket and its data.
    assert bucket_name_prefix("EventInvoke", "uploads") == "eventinvoke-d4759933-uploads"


@pytest.mark.parametrize("purpose", ["", "Uploads", "-uploads", "uploads-", "a_b", "abcdefghijklmnop"])
def test_bucket_name_prefix_rejects_a_purpose_s3_would_reject_or_that_leaves_no_room(purpose):
    with pytest.raises(ValueError, match="purpose"):
        bucket_name_prefix("EventInvoke", purpose)
