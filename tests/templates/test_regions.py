"""Stacks deploy only where Powertools publishes its layer, and say so before creating anything.

Every function takes the public Powertools layer, resolved from a parameter Powertools writes in a
fixed list of regions. Elsewhere the parameter does not exist and a deploy would fail halfway
through on it; instead the stack fails first, in one line that names the reason and the way out.
"""

from __future__ import annotations

import pytest
from aws_cdk import App, Duration, Environment, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk.assertions import Template
from botocore.exceptions import ClientError

from localcloud.rules import check_rules
from stacks.shared import PatternFunction
from tests.conftest import cdk_context
from tests.templates.helpers import resources

# Regions Powertools' release workflow writes the layer parameters to, and some it does not
# (China and GovCloud are other partitions; the two Middle East regions are not in its list).
PUBLISHED = ["us-east-1", "eu-west-1", "ap-southeast-2", "sa-east-1", "il-central-1", "mx-central-1"]
NOT_PUBLISHED = ["me-south-1", "me-central-1", "cn-north-1", "us-gov-west-1"]


def _pseudo(region: str) -> dict[str, str]:
    return {"AWS::Region": region, "AWS::AccountId": "123456789012", "AWS::StackName": "Probe", "AWS::Partition": "aws"}


BOOTSTRAPPED = {"BootstrapVersion": "30"}  # CDK's own rule wants a bootstrap stack of version 6 or later


def _function_stack(**stack_kwargs: object) -> Stack:
    stack = Stack(App(context=cdk_context()), "Probe", **stack_kwargs)  # type: ignore[arg-type]
    PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), alarms=False)
    return stack


def test_every_stack_with_the_layer_carries_the_region_rule_and_only_those(templates):
    with_layer = 0
    for stack_id, template in templates.items():
        takes_layer = any("Layers" in f["Properties"] for f in resources(template, "AWS::Lambda::Function").values())
        assert ("PowertoolsLayerRegion" in template.get("Rules", {})) == takes_layer, stack_id
        with_layer += takes_layer
    assert with_layer == 8  # every pattern; AccountSetup has no function and deploys anywhere


@pytest.mark.parametrize("region", PUBLISHED)
def test_each_stack_passes_its_rules_where_the_layer_is_published(templates, region):
    for template in templates.values():
        check_rules(template, _pseudo(region), BOOTSTRAPPED)


@pytest.mark.parametrize("region", NOT_PUBLISHED)
def test_each_pattern_stack_stops_before_creating_anything_where_it_is_not(templates, region):
    checked = 0
    for stack_id, template in templates.items():
        if "PowertoolsLayerRegion" not in template.get("Rules", {}):
            continue
        with pytest.raises(ClientError) as refused:
            check_rules(template, _pseudo(region), BOOTSTRAPPED)
        message = refused.value.response["Error"]["Message"]
        assert refused.value.response["Error"]["Code"] == "ValidationError", stack_id
        assert "Powertools" in message and "layer" in message and "POWERTOOLS_LAYER_REGIONS" in message, message
        assert "\n" not in message
        checked += 1
    assert checked == 8


@pytest.mark.parametrize("region", NOT_PUBLISHED[:2])
def test_a_stack_pinned_to_such_a_region_fails_the_synth_in_one_line(region):
    with pytest.raises(ValueError, match=f"Probe: Powertools for AWS Lambda publishes no layer parameter in {region}"):
        _function_stack(env=Environment(account="123456789012", region=region))


def test_a_stack_pinned_to_a_published_region_needs_no_rule():
    template = Template.from_stack(
        _function_stack(env=Environment(account="123456789012", region="eu-west-1"))
    ).to_json()
    assert "PowertoolsLayerRegion" not in template.get("Rules", {})
    assert any(p["Default"].startswith("/aws/service/powertools/") for p in template["Parameters"].values())


def test_functions_given_their_own_layers_take_no_public_parameter_and_no_rule():
    """The way out in a region without the layer: bring one (say, Powertools bundled by you)."""
    stack = Stack(App(context=cdk_context()), "Probe", env=Environment(account="123456789012", region="me-south-1"))
    own = lambda_.LayerVersion.from_layer_version_arn(
        stack, "Own", "arn:aws:lambda:me-south-1:123456789012:layer:powertools:1"
    )
    PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), alarms=False, layers=[own])
    template = Template.from_stack(stack).to_json()
    assert "PowertoolsLayerRegion" not in template.get("Rules", {})
    assert not any(
        str(p.get("Default", "")).startswith("/aws/service/powertools/")
        for p in template.get("Parameters", {}).values()
    )
    (function,) = resources(template, "AWS::Lambda::Function").values()
    assert function["Properties"]["Layers"] == ["arn:aws:lambda:me-south-1:123456789012:layer:powertools:1"]
