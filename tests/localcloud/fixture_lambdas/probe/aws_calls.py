"""A probe that calls AWS with clients made at import time, as handlers do.

Module-level clients resolve their credentials when the module is imported, so this shows that a
function's own role credentials are in place before its code is first loaded.
"""

from __future__ import annotations

import json

import boto3

sqs = boto3.client("sqs")
dynamodb = boto3.client("dynamodb")
s3 = boto3.client("s3")
sns = boto3.client("sns")
lambda_ = boto3.client("lambda")
sts = boto3.client("sts")
streams = boto3.client("dynamodbstreams")


def call(event, context):
    """Make the one call the event names against the target it names; AWS errors propagate."""
    action, target = event["action"], event.get("target")
    if action == "whoami":
        return {"arn": sts.get_caller_identity()["Arn"]}
    if action == "sqs:SendMessage":
        sqs.send_message(QueueUrl=target, MessageBody="probe")
    elif action == "dynamodb:PutItem":
        dynamodb.put_item(TableName=target, Item={"id": {"S": "probe"}})
    elif action == "dynamodb:GetItem":
        return {"item": dynamodb.get_item(TableName=target, Key={"id": {"S": "probe"}}).get("Item")}
    elif action == "dynamodb:GetRecords":  # the stream's first shard from its oldest record
        (shard,) = streams.describe_stream(StreamArn=target)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=target, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        return {"records": len(streams.get_records(ShardIterator=iterator)["Records"])}
    elif action == "dynamodb:TransactWriteItems":  # a Put on each table named
        items = [{"Put": {"TableName": table, "Item": {"id": {"S": "probe"}}}} for table in target.split(",")]
        dynamodb.transact_write_items(TransactItems=items)
    elif action == "s3:PutObject":
        s3.put_object(Bucket=event["bucket"], Key=target, Body=b"probe")
    elif action == "s3:GetObject":
        return {"body": s3.get_object(Bucket=event["bucket"], Key=target)["Body"].read().decode()}
    elif action == "s3:HeadObject":
        return {"length": s3.head_object(Bucket=event["bucket"], Key=target)["ContentLength"]}
    elif action == "sns:Publish":
        sns.publish(TopicArn=target, Message="probe")
    elif action == "lambda:InvokeFunction":
        response = lambda_.invoke(FunctionName=target, Payload=json.dumps({"action": "whoami"}).encode())
        return json.loads(response["Payload"].read())
    else:
        raise ValueError(f"unknown action {action!r}")
    return {"ok": True}
