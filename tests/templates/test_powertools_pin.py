"""The Powertools layer the stacks deploy is the release the tests run against.

Handlers import Powertools from the layer in Lambda and from PyPI in the tests. The layer is
pinned (settings.POWERTOOLS_VERSION, cdk.json's `powertools_layer_version`) to the release
requirements-dev.txt and constraints.txt pin; bump all four together, and these tests say which
one was forgotten.
"""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
from aws_cdk import App, Duration, Stack
from aws_cdk.assertions import Template

from stacks.shared import PatternFunction, settings
from tests.conftest import ROOT, cdk_context
from tests.templates.helpers import resources

PACKAGE = "aws-lambda-powertools"
INSTALLED = version(PACKAGE)
# Where Powertools publishes each release's layer ARN (its docs, "Using SSM Parameter Store", and
# the release workflow that writes one parameter per architecture, Python version and release).
PARAMETER = f"/aws/service/powertools/python/arm64/python3.14/{INSTALLED}"


def pinned(requirements_file: str) -> str:
    """The exact version a requirements or constraints file pins Powertools to (`_`, `-` and
    extras as pip reads them)."""
    text = (ROOT / requirements_file).read_text()
    (pin,) = re.findall(
        r"^aws[-_]lambda[-_]powertools(?:\[[^\]]*\])?==(\S+)\s*$", text, flags=re.MULTILINE | re.IGNORECASE
    )
    return pin


def test_the_installed_powertools_is_the_pinned_one():
    assert INSTALLED == pinned("requirements-dev.txt") == pinned("constraints.txt")


def test_the_layer_is_pinned_to_the_installed_release_not_latest():
    assert settings.POWERTOOLS_VERSION == INSTALLED, "settings.POWERTOOLS_VERSION"
    assert cdk_context()["powertools_layer_version"] == INSTALLED, "cdk.json powertools_layer_version"


def test_every_function_of_every_stack_deploys_the_pinned_layer(templates):
    functions = 0
    for stack_id, template in templates.items():
        for logical_id, function in resources(template, "AWS::Lambda::Function").items():
            if "Layers" not in function["Properties"]:
                continue  # CDK's own providers (bucket auto-delete) take no layer
            functions += 1
            (layer,) = function["Properties"]["Layers"]
            parameter = template["Parameters"][layer["Ref"]]
            assert parameter["Type"] == "AWS::SSM::Parameter::Value<String>", f"{stack_id}/{logical_id}"
            assert parameter["Default"] == PARAMETER, f"{stack_id}/{logical_id}"
    assert functions >= 8


def _layer_parameter(context: dict) -> str:
    """The layer parameter a function gets when the app is synthesized with `context`."""
    stack = Stack(App(context=context), "Probe")
    PatternFunction(stack, "Fn", pattern="api_sync", timeout=Duration.seconds(3), alarms=False)
    template = Template.from_stack(stack).to_json()
    (parameter,) = [
        p["Default"] for p in template["Parameters"].values() if p["Default"].startswith("/aws/service/powertools/")
    ]
    return parameter


def test_the_pin_can_be_overridden_by_context_and_latest_stays_possible():
    assert _layer_parameter({**cdk_context(), "powertools_layer_version": "3.40.1"}).endswith("/python3.14/3.40.1")
    assert _layer_parameter({**cdk_context(), "powertools_layer_version": "latest"}).endswith("/python3.14/latest")


@pytest.mark.parametrize("bad", ["v3.37.0", "3.37", "3.37.0 ", "LATEST", ""])
def test_a_version_that_names_no_published_parameter_fails_the_synth(bad):
    with pytest.raises(ValueError, match="powertools_layer_version"):
        _layer_parameter({**cdk_context(), "powertools_layer_version": bad})
