"""`AWS::SecretsManager::Secret` from CloudFormation (localcloud.secrets): a Ref is the ARN of a
secret that exists, with the given or a generated value."""

from __future__ import annotations

import json
import string

import boto3
import pytest
from moto import mock_aws

from localcloud.secrets import SecretModel

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture
def secrets():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def create(properties: dict) -> SecretModel:
    return SecretModel.create_from_cloudformation_json("ApiKey1A2B3C4D", {"Properties": properties}, ACCOUNT, REGION)


def test_a_generated_value_follows_generate_secret_string(secrets):
    model = create({"Description": "d", "GenerateSecretString": {"PasswordLength": 48, "ExcludePunctuation": True}})
    assert model.physical_resource_id.startswith(f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ApiKey1A2B3C4D-")
    value = secrets.get_secret_value(SecretId=model.physical_resource_id)["SecretString"]
    assert len(value) == 48 and not set(value) & set(string.punctuation)
    assert secrets.describe_secret(SecretId=model.physical_resource_id)["Description"] == "d"
    assert (
        value
        != secrets.get_secret_value(
            SecretId=create({"GenerateSecretString": {"PasswordLength": 48}}).physical_resource_id
        )["SecretString"]
    )


def test_a_template_and_key_put_the_generated_value_in_json(secrets):
    model = create(
        {
            "Name": "db",
            "GenerateSecretString": {"SecretStringTemplate": '{"user": "app"}', "GenerateStringKey": "password"},
        }
    )
    value = json.loads(secrets.get_secret_value(SecretId="db")["SecretString"])
    assert value["user"] == "app" and len(value["password"]) == 32
    assert model.get_cfn_attribute("Id") == model.physical_resource_id


def test_a_given_value_is_kept(secrets):
    model = create({"SecretString": "s3cret"})
    assert secrets.get_secret_value(SecretId=model.physical_resource_id)["SecretString"] == "s3cret"
