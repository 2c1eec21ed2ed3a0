"""S3 event notifications as AWS writes them: every event of a key carries a `sequencer`."""

from __future__ import annotations

import json
from urllib.parse import unquote_plus

import boto3


def test_every_upload_event_carries_a_sequencer_that_orders_the_events_of_a_key(local_cloud):
    """S3 gives each event a `sequencer` (hex; for one key, a later event has a greater one once
    both are padded to the same length) and repeats it when it delivers the same event again:
    the way to tell a new upload of the same bytes from a duplicate delivery. moto's events have none."""
    s3, sqs = boto3.client("s3", region_name=local_cloud.region), boto3.client("sqs", region_name=local_cloud.region)
    queue = sqs.create_queue(QueueName="s3-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="sequenced")
    s3.put_bucket_notification_configuration(
        Bucket="sequenced",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    for body in (b"same bytes", b"same bytes", b"other"):
        s3.put_object(Bucket="sequenced", Key="incoming/a.csv", Body=body)
    s3.put_object(Bucket="sequenced", Key="incoming/b.csv", Body=b"same bytes")
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    events = [b["Records"][0]["s3"]["object"] for b in bodies if "Records" in b]  # (not the s3:TestEvent)
    for event in events:
        event["key"] = unquote_plus(event["key"])
    a = [e["sequencer"] for e in events if e["key"] == "incoming/a.csv"]
    assert len(a) == 3 and len(set(a)) == 3  # the same bytes uploaded twice: two events, two sequencers
    width = max(len(s) for s in a)
    assert [int(s.ljust(width, "0"), 16) for s in a] == sorted(int(s.ljust(width, "0"), 16) for s in a)
    assert all(c in "0123456789ABCDEF" for s in a for c in s)
    assert [e["sequencer"] for e in events if e["key"] == "incoming/b.csv"]
