"""`AWS::KMS::Key` from CloudFormation (moto patch 14): the key policy is usable through KMS's API."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from localcloud import LocalCloud

POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Root",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "Alarms",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
        },
    ],
}
TEMPLATE = {
    "Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": POLICY, "EnableKeyRotation": True}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"KmsMasterKeyId": {"Fn::GetAtt": ["Key", "Arn"]}}},
    },
    "Outputs": {"KeyId": {"Value": {"Ref": "Key"}}, "TopicArn": {"Value": {"Ref": "Topic"}}},
}


def create_stack(cloudformation) -> dict[str, str]:
    cloudformation.create_stack(StackName="Keys", TemplateBody=json.dumps(TEMPLATE))
    (stack,) = cloudformation.describe_stacks(StackName="Keys")["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    return {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}


def test_a_key_from_a_template_has_its_policy_and_rotation_and_encrypts_a_topic():
    with LocalCloud() as cloud:
        outputs = create_stack(cloud.client("cloudformation"))
        kms = cloud.client("kms")
        key = kms.describe_key(KeyId=outputs["KeyId"])["KeyMetadata"]
        assert json.loads(kms.get_key_policy(KeyId=outputs["KeyId"], PolicyName="default")["Policy"]) == POLICY
        assert kms.get_key_rotation_status(KeyId=outputs["KeyId"])["KeyRotationEnabled"] is True
        topic = cloud.client("sns").get_topic_attributes(TopicArn=outputs["TopicArn"])["Attributes"]
        assert topic["KmsMasterKeyId"] == key["Arn"]


def test_moto_alone_stores_the_policy_object_and_its_kms_api_fails_on_the_key():
    """Why patch 14 exists: if this starts passing moto has fixed it, and the patch can go."""
    with mock_aws():
        outputs = create_stack(boto3.client("cloudformation", region_name="us-east-1"))
        with pytest.raises(TypeError, match="must be str"):
            boto3.client("kms", region_name="us-east-1").describe_key(KeyId=outputs["KeyId"])
