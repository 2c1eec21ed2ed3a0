"""A pattern given a team's own bucket, deployed: CDK's notifications custom resource adds the
pattern's notification to the bucket, next to the one the team already had, and uploads flow."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_s3 as s3

from localcloud import Deployment
from stacks.event_invoke import EventInvoke
from tests.conftest import cdk_context

TEAM_BUCKET = "team-uploads"


@pytest.fixture(scope="module")
def stack(local_cloud, deploy, tmp_path_factory) -> Deployment:
    s3_client = local_cloud.client("s3")
    s3_client.create_bucket(Bucket=TEAM_BUCKET)
    # The team's own notification, which the pattern's must not replace.
    sqs = local_cloud.client("sqs")
    audit_queue = sqs.get_queue_attributes(
        QueueUrl=sqs.create_queue(QueueName="team-audit")["QueueUrl"], AttributeNames=["QueueArn"]
    )
    s3_client.put_bucket_notification_configuration(
        Bucket=TEAM_BUCKET,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": audit_queue["Attributes"]["QueueArn"],
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "audit/"}]}},
                }
            ]
        },
    )
    outdir = tmp_path_factory.mktemp("existing")
    app = App(outdir=str(outdir), context=cdk_context(), analytics_reporting=False)
    team = Stack(app, "TeamUploads")
    EventInvoke(team, "Uploads", existing_bucket=s3.Bucket.from_bucket_name(team, "Bucket", TEAM_BUCKET))
    app.synth()
    return deploy(outdir, "TeamUploads")


def test_an_upload_to_the_teams_bucket_is_analyzed(stack):
    client = stack.client("s3")
    client.put_object(Bucket=TEAM_BUCKET, Key="incoming/poem.txt", Body=b"roses are red\n")
    stack.settle()
    result = json.loads(client.get_object(Bucket=TEAM_BUCKET, Key="analysis/incoming/poem.txt.json")["Body"].read())
    assert result["words"] == 3
    assert [(i.condition, i.attempts) for i in stack.cloud.async_invocations] == [("Success", 1)]


def test_the_teams_own_notification_is_kept(stack):
    configuration = stack.client("s3").get_bucket_notification_configuration(Bucket=TEAM_BUCKET)
    assert [q["QueueArn"].rsplit(":", 1)[1] for q in configuration["QueueConfigurations"]] == ["team-audit"]
    (pattern,) = configuration["LambdaFunctionConfigurations"]
    assert [(rule["Name"].lower(), rule["Value"]) for rule in pattern["Filter"]["Key"]["FilterRules"]] == [
        ("prefix", "incoming/")
    ]
