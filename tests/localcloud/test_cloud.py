"""LocalCloud from a plain script: one object owns the account and undoes everything on exit."""

from __future__ import annotations

import os

import pytest
from moto.awslambda.models import LambdaFunction
from moto.cloudformation.models import Stack as CloudFormationStack
from moto.cloudformation.parsing import get_model_map

from localcloud import LocalCloud


def test_a_script_deploys_and_invokes_and_exit_restores_moto_and_the_environment(fixture_assembly):
    moto_invoke, moto_parse, environ = (
        LambdaFunction._invoke_lambda,
        CloudFormationStack.__dict__["parse_template"],
        os.environ,
    )
    with LocalCloud() as cloud:
        stack = cloud.deploy(fixture_assembly, "AsyncFixture")
        assert stack.invoke("RetryNone", {"id": "s-1"}) == ({"ok": True, "id": "s-1"}, None)
        assert "AWS::Lambda::Url" in get_model_map()
    assert LambdaFunction._invoke_lambda is moto_invoke
    assert CloudFormationStack.__dict__["parse_template"] is moto_parse
    assert os.environ is environ
    assert "AWS::Lambda::Url" not in get_model_map()


def test_exit_removes_the_unzipped_function_code(fixture_assembly):
    with LocalCloud() as cloud:
        cloud.deploy(fixture_assembly, "AsyncFixture").invoke("RetryNone", {"id": "c-1"})
        code_root = cloud.runtime.code_root
        assert any(code_root.iterdir())
    assert not code_root.exists()


def test_a_json_template_is_read_without_yaml_and_a_yaml_one_still_is(monkeypatch):
    import yaml

    yaml_load = yaml.load
    with LocalCloud():
        monkeypatch.setattr(yaml, "load", lambda *args, **kwargs: pytest.fail("a JSON template went through YAML"))
        assert CloudFormationStack.parse_template('{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}}') == {
            "Resources": {"Q": {"Type": "AWS::SQS::Queue"}}
        }
        monkeypatch.setattr(yaml, "load", yaml_load)
        template = "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Name\n"
        assert CloudFormationStack.parse_template(template) == {
            "Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": "Name"}}}}
        }


def test_two_clouds_keep_separate_state(fixture_assembly):
    with LocalCloud() as first:
        first.deploy(fixture_assembly, "AsyncFixture").invoke_async("RetryNone", {"id": "a"})
        first.settle()
    with LocalCloud() as second:
        assert second.deployments == [] and second.async_invocations == []
    assert len(first.async_invocations) == 1


def test_only_one_cloud_is_active_at_a_time():
    with LocalCloud():
        with pytest.raises(RuntimeError, match="another LocalCloud"):
            LocalCloud().__enter__()


def test_a_cloud_starts_and_ends_without_powertools_providers_from_elsewhere(monkeypatch):
    """Powertools' default providers are process-wide and keep their first client: one left by an
    earlier test, bound to another region, must not answer for this cloud's secrets."""
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    elsewhere = boto3.client(
        "secretsmanager", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    monkeypatch.setitem(DEFAULT_PROVIDERS, "secrets", parameters.SecretsProvider(boto3_client=elsewhere))
    with LocalCloud(region="us-east-1") as cloud:
        arn = cloud.client("secretsmanager").create_secret(Name="webhook-key", SecretString="s3cr3t")["ARN"]
        assert parameters.get_secret(arn, max_age=0) == "s3cr3t"
    assert "secrets" not in DEFAULT_PROVIDERS


def test_a_cloud_makes_one_client_per_service():
    with LocalCloud() as cloud:
        assert cloud.client("sqs") is cloud.client("sqs")
        assert cloud.client("sqs") is not cloud.client("sns")
