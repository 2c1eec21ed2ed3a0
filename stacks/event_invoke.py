"""Pattern 2, EventInvoke: fire-and-forget work that must not fail silently.

    upload to incoming/ --> UploadsBucket --(S3 invokes asynchronously)--> AnalyzeFunction
                                                                  |  retries, max event age
                      analysis/<key>.json  <--  result  ----------+
                      AnalysisResults (on-success)  <-- invocation record
                      AnalysisFailures (on-failure) <-- invocation record with the error
                      AnalyzeDLQ (dead-letter queue) <-- the event itself

S3 hands each event to Lambda's internal queue and moves on. Lambda runs the function, retries a
failure `retry_attempts` times, drops events older than `max_event_age`, and reports every outcome:
success records to one queue, failures (with the error) to another, and the failed event itself to
a dead-letter queue. Alarms watch both failure queues and Lambda's delivery errors.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Aws, CfnOutput, Duration, Fn, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from stacks.shared import PatternFunction
from stacks.shared.buckets import secure_bucket
from stacks.shared.monitoring import DEFAULT_PERIOD, alarm
from stacks.shared.queues import DLQ_RETENTION, dead_letter_queue, failure_destination_queue, secure_queue

PATTERN = "event_invoke"
METRICS_NAMESPACE = "ServerlessAsyncPatterns"
INCOMING_PREFIX = "incoming/"
RESULTS_PREFIX = "analysis/"


class EventInvokeStack(Stack):
    """S3 object-created events -> Lambda (async) with retries, destinations and a DLQ."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration = Duration.seconds(60),
        memory_size: int = 512,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(1),
        max_object_bytes: int = 10 * 1024 * 1024,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, description="EventInvoke: S3 -> Lambda async invoke with destinations and a DLQ", **kwargs)  # type: ignore[arg-type]

        # Where uploads land. The name is derived from the stack, account and region, so the
        # notification's permission can name the bucket before the bucket exists (no cycle, and no
        # custom resource to configure notifications).
        name_prefix = f"{self.stack_name.lower()[:24]}-uploads"
        bucket_name = Fn.join("-", [name_prefix, Aws.ACCOUNT_ID, Aws.REGION])
        access_logs = secure_bucket(self, "AccessLogsBucket")
        self.bucket = secure_bucket(
            self,
            "UploadsBucket",
            bucket_name=bucket_name,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="uploads/",
        )

        # Where each outcome goes: success and failure records, and the failed event itself.
        results_dlq = dead_letter_queue(self, "AnalysisResultsDLQ", holds="success records a consumer failed to process")
        self.results_queue = secure_queue(
            self,
            "AnalysisResults",
            retention_period=DLQ_RETENTION,
            dead_letter_queue=sqs.DeadLetterQueue(queue=results_dlq, max_receive_count=3),
        )
        self.failures_queue = failure_destination_queue(self, "AnalysisFailures", holds="events that failed every attempt, with the error")
        self.dead_letter_queue = dead_letter_queue(self, "AnalyzeDLQ", holds="events that failed every attempt")

        # The function S3 invokes asynchronously.
        self.function = PatternFunction(
            self,
            "AnalyzeFunction",
            pattern=PATTERN,
            description="Analyzes objects uploaded to the uploads bucket",
            timeout=function_timeout,
            memory_size=memory_size,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
            on_success=destinations.SqsDestination(self.results_queue),
            on_failure=destinations.SqsDestination(self.failures_queue),
            dead_letter_queue=self.dead_letter_queue,
            environment={
                "RESULTS_PREFIX": RESULTS_PREFIX,
                "MAX_OBJECT_BYTES": str(max_object_bytes),
                "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            },
        )
        # Read uploads, write results: object ARNs built from the bucket's name, not the bucket
        # resource, since the bucket itself depends on the function (its notification target).
        objects = Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", bucket_name, "/"])
        object_access = iam.Policy(
            self,
            "AnalyzeFunctionObjectAccess",
            roles=[self.function.role],  # type: ignore[list-item]
            statements=[
                iam.PolicyStatement(actions=["s3:GetObject"], resources=[Fn.join("", [objects, INCOMING_PREFIX, "*"])]),
                iam.PolicyStatement(actions=["s3:GetObject", "s3:PutObject"], resources=[Fn.join("", [objects, RESULTS_PREFIX, "*"])]),
            ],
        )
        for prefix in (INCOMING_PREFIX, RESULTS_PREFIX):
            Validations.of(object_access).acknowledge(
                Acknowledgment(
                    id=f"AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::{name_prefix}-<AWS::AccountId>-<AWS::Region>/{prefix}*]",
                    reason=f"Object-level access to the {prefix} prefix of this stack's own bucket; object keys "
                    "are chosen by uploaders, so they cannot be listed in advance.",
                )
            )

        # Bucket -> function: object-created events under incoming/ only, so results written
        # under analysis/ never trigger the function again.
        permission = lambda_.CfnPermission(
            self,
            "AllowS3Invoke",
            action="lambda:InvokeFunction",
            function_name=self.function.function_arn,
            principal="s3.amazonaws.com",
            source_account=Aws.ACCOUNT_ID,
            source_arn=Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", bucket_name]),
        )
        uploads: s3.CfnBucket = self.bucket.node.default_child  # type: ignore[assignment]
        uploads.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            lambda_configurations=[
                s3.CfnBucket.LambdaConfigurationProperty(
                    event="s3:ObjectCreated:*",
                    function=self.function.function_arn,
                    filter=s3.CfnBucket.NotificationFilterProperty(
                        s3_key=s3.CfnBucket.S3KeyFilterProperty(rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value=INCOMING_PREFIX)])
                    ),
                )
            ]
        )
        uploads.add_resource_dependency(permission)

        # Failures must be seen: the function's errors, and Lambda failing to deliver a record.
        for metric_name, what in (
            ("DeadLetterErrors", "could not send a failed event to its dead-letter queue"),
            ("DestinationDeliveryFailures", "could not deliver an invocation record to its destination"),
        ):
            alarm(
                self,
                f"AnalyzeFunction{metric_name}",
                metric=self.function.metric(metric_name, period=DEFAULT_PERIOD, statistic="Sum"),
                threshold=1,
                description=f"Lambda {what}",
            )
        alarm(
            self,
            "RejectedUploads",
            metric=cloudwatch.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="RejectedObjects",
                dimensions_map={"service": PATTERN},  # Powertools' service name is the pattern
                period=DEFAULT_PERIOD,
                statistic="Sum",
            ),
            threshold=1,
            description="An upload was rejected without retry (unsupported or oversized): see analysis/<key>.json",
        )

        CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
        CfnOutput(self, "UploadPrefix", value=INCOMING_PREFIX)
        CfnOutput(self, "ResultsQueueUrl", value=self.results_queue.queue_url)
        CfnOutput(self, "FailuresQueueUrl", value=self.failures_queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=self.dead_letter_queue.queue_url)
        CfnOutput(self, "FunctionName", value=self.function.function_name)
