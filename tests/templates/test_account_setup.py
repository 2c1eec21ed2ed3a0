"""API Gateway's CloudWatch role and account setting: deployed once, by AccountSetup, owned by no pattern.

The setting is one per account and region. A pattern stack that owned it would overwrite another
copy's role, and destroying it would break every other API's logging in the region.
"""

from __future__ import annotations

import json

from aws_cdk import App, CfnDeletionPolicy

from app import ACCOUNT_STACKS, PATTERNS, app_stacks
from stacks.account_setup import AccountSetupStack
from tests.conftest import cdk_context
from tests.templates.helpers import ref_target, resources

ACCOUNT = "AWS::ApiGateway::Account"


def test_exactly_one_account_setting_in_the_app_and_it_is_in_account_setup(templates):
    owners = [(stack_id, lid) for stack_id, template in templates.items() for lid in resources(template, ACCOUNT)]
    assert [stack_id for stack_id, _ in owners] == ["AccountSetup"]


def test_no_pattern_stack_creates_a_logging_role_for_api_gateway(templates):
    # (ExpressWorkflow's API has a role of its own, to start executions: not a logging role.)
    for stack_id in PATTERNS:
        for lid, role in resources(templates[stack_id], "AWS::IAM::Role").items():
            assert "AmazonAPIGatewayPushToCloudWatchLogs" not in json.dumps(role["Properties"]), f"{stack_id}/{lid}"


def test_the_account_setting_names_a_role_only_api_gateway_can_assume(templates):
    template = templates["AccountSetup"]
    ((_, account),) = resources(template, ACCOUNT).items()
    role = ref_target(template, account["Properties"]["CloudWatchRoleArn"])
    assert account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][1] == "Arn"
    assert role["Type"] == "AWS::IAM::Role"
    (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement == {
        "Action": "sts:AssumeRole",
        "Effect": "Allow",
        "Principal": {"Service": "apigateway.amazonaws.com"},
    }
    (policy,) = role["Properties"]["ManagedPolicyArns"]
    assert json.dumps(policy).endswith(':iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]]}')
    assert "Policies" not in role["Properties"]


def test_account_setup_is_the_whole_stack_and_removed_on_destroy(templates):
    template = templates["AccountSetup"]
    ours = {lid: r for lid, r in template["Resources"].items() if r["Type"] != "AWS::CDK::Metadata"}
    assert sorted(r["Type"] for r in ours.values()) == [ACCOUNT, "AWS::IAM::Role"]
    (role,) = resources(template, "AWS::IAM::Role").values()
    assert role["DeletionPolicy"] == role["UpdateReplacePolicy"] == "Delete"


def test_the_role_is_removed_on_destroy_even_when_data_is_kept():
    # The role holds no data; keep_data must not make AccountSetup leave anything behind.
    stack = AccountSetupStack(App(context={**cdk_context(), "keep_data": True}), "AccountSetup")
    role = stack.cloud_watch_role.node.default_child
    assert role.cfn_options.deletion_policy == CfnDeletionPolicy.DELETE


def test_pattern_stacks_do_not_depend_on_account_setup(cloud_assembly):
    # Each pattern deploys on its own (`cdk deploy ApiSync` must not touch the account setting);
    # README's deploy section says to deploy AccountSetup first.
    for stack_id in PATTERNS:
        dependencies = {d.id for d in cloud_assembly.get_stack_by_name(stack_id).dependencies}
        assert not dependencies & set(ACCOUNT_STACKS), stack_id


def test_account_setup_can_be_left_out_where_the_account_already_has_a_role():
    assert list(app_stacks(App(context=cdk_context()))) == [*ACCOUNT_STACKS, *PATTERNS]
    assert list(app_stacks(App(context={**cdk_context(), "account_setup": "false"}))) == list(PATTERNS)
    assert list(app_stacks(App(context={**cdk_context(), "account_setup": False}))) == list(PATTERNS)


def test_the_app_builds_the_account_stacks(cloud_assembly):
    assert {s.stack_name for s in cloud_assembly.stacks} == {*ACCOUNT_STACKS, *PATTERNS}
