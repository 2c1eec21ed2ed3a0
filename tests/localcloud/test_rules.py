"""The local cloud checks a template's Rules before creating the stack, as CloudFormation does."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from localcloud import LocalCloud
from localcloud.rules import check_rules

REGION_RULE = {
    "Rules": {
        "OnlyHere": {
            "Assertions": [
                {
                    "Assert": {"Fn::Contains": [["eu-west-1", "us-east-1"], {"Ref": "AWS::Region"}]},
                    "AssertDescription": "not in this region",
                }
            ]
        }
    }
}


def test_a_true_assertion_passes_and_a_false_one_is_createstacks_validation_error():
    check_rules(REGION_RULE, {"AWS::Region": "eu-west-1"})
    with pytest.raises(ClientError) as refused:
        check_rules(REGION_RULE, {"AWS::Region": "me-south-1"})
    assert refused.value.response["Error"] == {"Code": "ValidationError", "Message": "not in this region"}
    assert refused.value.operation_name == "CreateStack"


def test_a_rule_whose_condition_does_not_hold_is_not_asserted():
    rule = {
        "Parameters": {"Env": {"Type": "String", "Default": "dev"}},
        "Rules": {
            "ProdOnly": {
                "RuleCondition": {"Fn::Equals": [{"Ref": "Env"}, "prod"]},
                "Assertions": [{"Assert": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AWS::Region"}, "me-south-1"]}]}}],
            }
        },
    }
    check_rules(rule, {"AWS::Region": "me-south-1"})
    rule["Parameters"]["Env"]["Default"] = "prod"
    with pytest.raises(ClientError, match="Template rule ProdOnly failed"):
        check_rules(rule, {"AWS::Region": "me-south-1"})


def test_a_rule_function_the_local_cloud_does_not_model_is_refused_not_passed():
    rule = {"Rules": {"R": {"Assertions": [{"Assert": {"Fn::EachMemberIn": [[], []]}}]}}}
    with pytest.raises(NotImplementedError, match="Fn::EachMemberIn"):
        check_rules(rule, {"AWS::Region": "us-east-1"})


def test_a_pattern_stack_deploys_where_powertools_publishes_and_is_refused_elsewhere(cloud_assembly):
    with LocalCloud(region="me-south-1") as cloud:
        with pytest.raises(ClientError, match="publishes no layer parameter in this region"):
            cloud.deploy(cloud_assembly.directory, "QueueRedrive")
        assert cloud.client("cloudformation").list_stacks()["StackSummaries"] == []  # nothing was created
    with LocalCloud(region="eu-west-1") as cloud:
        assert cloud.deploy(cloud_assembly.directory, "QueueRedrive").outputs


def test_an_ssm_typed_parameter_that_does_not_exist_refuses_the_stack_before_creating_it(fixture_assembly, tmp_path):
    import json
    import shutil

    assembly = tmp_path / "assembly"
    shutil.copytree(fixture_assembly, assembly)
    template_path = assembly / "AsyncFixture.template.json"
    template = json.loads(template_path.read_text())
    template.setdefault("Parameters", {})["Missing"] = {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/not/published/here",
    }
    template_path.write_text(json.dumps(template))
    with LocalCloud() as cloud:
        with pytest.raises(ClientError, match=r"Unable to fetch parameters \[/not/published/here\]") as refused:
            cloud.deploy(assembly, "AsyncFixture")
        assert refused.value.response["Error"]["Code"] == "ValidationError"
        assert cloud.client("cloudformation").list_stacks()["StackSummaries"] == []
