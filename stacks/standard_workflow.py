"""Pattern 5, StandardWorkflow: a job longer than one Lambda may run, as a Standard state machine.

    upload incoming/x.csv --> DataBucket --(S3 invokes async, *.csv only)--> StartFunction
        --StartExecution(name = job id)-->

    Split --> Map: ProcessChunk x N (MaxConcurrency) --> Merge --> WaitForApproval --> Publish --> Done
      |              |                                  |            | (task token in JobsTable,      |
      +--------------+----------------------------------+            |  message on ApprovalTopic)     |
                 any error, after retries on transient ones           +-- rejected / timed out --------+
                                   v                                  v
                             RecordFailure (job record: FAILED, REJECTED or EXPIRED, with the reason)
                                   v
                     JobFailed (Fail) | ApprovalExpired (Fail) | JobRejected (Succeed: a decision)

Split reads the CSV's header and cuts the rest into byte ranges, writing one small manifest per
chunk under jobs/<id>/chunks/; only keys travel in the state. Each chunk is aggregated by its own
invocation (well within Lambda's 15 minutes however large the file), results land under
jobs/<id>/results/, Merge combines them, and a person approves the merged result before Publish
copies it to published/<id>.json. Every task retries Lambda's service errors and the handlers'
TransientError with backoff, and Lambda's throttling longer (up to 10 attempts, at most about six minutes);
anything else (bad data) is caught at once and recorded on the job.
The approval waits at most `approval_timeout` (the state's TimeoutSeconds; no heartbeat, since
nothing sends one while a person decides), then the job ends EXPIRED instead of hanging; the
approval message states that deadline as a UTC time. A retried approval request (Step Functions
calls the task again with a new token) replaces the token stored on the job.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from .shared import PatternFunction
from .shared.async_invoke import AsyncInvoke
from .shared.buckets import ExistingBucket, NotifyingBucket, secure_bucket
from .shared.code import pattern_names
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.state_machine import (
    PatternStateMachine,
    TaskRetry,
    acknowledge_task_qualifiers,
    lambda_task,
    task_function,
)
from .shared.tables import secure_table

PATTERN = "standard_workflow"
APPROVAL_TIMEOUT_ERRORS = ["States.Timeout"]
JOB_ID = sfn.JsonPath.string_at("$$.Execution.Name")  # the execution name is the job id
# A task throttled by Lambda (the account's concurrency full, say with a burst of jobs' chunks) is
# retried up to this often, the wait doubling from `retry_interval` to at most a minute, jittered
# so the throttled tasks of many jobs do not all come back at once: at most about six minutes in all.
THROTTLE_RETRY_ATTEMPTS = 10
THROTTLE_MAX_DELAY = Duration.minutes(1)


class StandardWorkflow(PatternConstruct):
    """S3 upload -> Standard state machine: split, Map over chunks, merge, approval, publish.

    Attributes: `bucket`, `state_machine`, `jobs_table`, `approval_topic`, `start_function` (and
    `start_invocation`), `split_function`, `chunk_function`, `merge_function`, `approval_function`,
    `publish_function`, `failure_function`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        group_by: str = "region",
        chunk_bytes: int = 8 * 1024 * 1024,
        max_chunks: int = 1000,
        max_concurrency: int = 10,
        chunk_timeout: Duration = Duration.minutes(5),
        retry_attempts: int = 3,
        retry_interval: Duration = Duration.seconds(2),
        approval_timeout: Duration = Duration.hours(24),
        execution_timeout: Duration = Duration.days(2),
        existing_bucket: s3.IBucket | None = None,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)
        if not 1 <= max_concurrency <= 40:
            raise ValueError(
                "max_concurrency must be between 1 and 40: it bounds how hard the chunks hit S3 and DynamoDB"
            )
        if approval_timeout.to_seconds() >= execution_timeout.to_seconds():
            raise ValueError(
                "approval_timeout must be shorter than execution_timeout, or the execution times out first and the job "
                "is never marked EXPIRED"
            )

        # Where uploads land and every job's intermediate and published results live.
        # An existing bucket of yours instead: only the pattern's prefixes (names.py) are used.
        self.bucket: NotifyingBucket | ExistingBucket
        if existing_bucket is not None:
            self.bucket = ExistingBucket(self, "DataBucket", existing_bucket)
        else:
            access_logs = secure_bucket(self, "AccessLogsBucket")
            self.bucket = NotifyingBucket(
                self,
                "DataBucket",
                purpose="data",
                server_access_logs_bucket=access_logs,
                server_access_logs_prefix="data/",
            )
        self.jobs_table = secure_table(self, "JobsTable", partition_key="job_id")
        # A person subscribes to approval requests. Encrypted with the AWS-managed SNS key (the
        # key policy lets principals of this account publish through SNS), TLS-only.
        self.approval_topic = sns.Topic(
            self,
            "ApprovalTopic",
            master_key=kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns"),
            enforce_ssl=True,
        )

        # One function per task, each granted only what its step touches.
        environment = {names.BUCKET_ENV: self.bucket.derived_name, names.JOBS_TABLE_ENV: self.jobs_table.table_name}
        chunking = {names.CHUNK_BYTES_ENV: str(chunk_bytes), names.MAX_CHUNKS_ENV: str(max_chunks)}
        self.split_function = self._function("SplitFunction", "split", Duration.minutes(1), {**environment, **chunking})
        self.chunk_function = self._function(
            "ProcessChunkFunction", "process_chunk", chunk_timeout, {**environment, **chunking}, memory_size=1024
        )
        self.merge_function = self._function(
            "MergeFunction", "merge", Duration.minutes(2), environment, memory_size=1024
        )
        self.approval_function = self._function(
            "RequestApprovalFunction",
            "request_approval",
            Duration.seconds(30),
            {**environment, names.APPROVAL_TOPIC_ENV: self.approval_topic.topic_arn},
        )
        self.publish_function = self._function("PublishFunction", "publish", Duration.seconds(30), environment)
        self.failure_function = self._function(
            "RecordFailureFunction", "record_failure", Duration.seconds(30), environment
        )

        uploads, work, published = names.INCOMING_PREFIX, names.JOBS_PREFIX, names.PUBLISHED_PREFIX
        self.bucket.grant_object_access(self.split_function, read=[uploads], read_write=[work])
        self.bucket.grant_object_access(self.chunk_function, read=[uploads], read_write=[work])
        self.bucket.grant_object_access(self.merge_function, read_write=[work])
        self.bucket.grant_object_access(self.publish_function, read=[work], read_write=[published])
        for function in (
            self.split_function,
            self.chunk_function,
            self.approval_function,
            self.publish_function,
            self.failure_function,
        ):
            self.jobs_table.grant(function, "dynamodb:UpdateItem")  # jobs.py's conditional updates only
        # sns:Publish only: topic.grant_publish would add kms:GenerateDataKey* on every key of the
        # account for the imported alias; the AWS-managed key's policy already lets this account's
        # principals use it through SNS.
        self.approval_function.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.approval_topic.topic_arn])
        )

        # The workflow, in the order it runs: Split -> ProcessChunks (a Map over the chunks) -> Merge ->
        # WaitForApproval -> Publish. Only keys and counts travel in the state; the data stays in S3.
        # Throttling has a retrier of its own, with more attempts: a burst of uploads can fill the
        # account's concurrency with chunks for longer than three retries wait, and a task throttled
        # out failed its job (RecordFailure throttled out left the job unfinished for good).
        throttled = TaskRetry(
            attempts=THROTTLE_RETRY_ATTEMPTS,
            interval=retry_interval,
            max_delay=THROTTLE_MAX_DELAY,
            jitter=sfn.JitterType.FULL,
        )
        retry = TaskRetry(attempts=retry_attempts, interval=retry_interval, throttled=throttled)
        split = lambda_task(
            self,
            "Split",
            self.split_function,
            retry=retry,
            payload={
                "job_id": JOB_ID,
                "source_key": sfn.JsonPath.string_at("$.source_key"),
                "etag": sfn.JsonPath.string_at("$.etag"),
                "group_by": sfn.JsonPath.string_at("$.group_by"),
            },
            result_selector={"chunks": sfn.JsonPath.list_at("$.chunks")},
        )
        process_chunks = sfn.Map(
            self,
            "ProcessChunks",
            items_path="$.chunks",
            max_concurrency=max_concurrency,
            item_selector={
                "job_id": JOB_ID,
                "manifest_key": sfn.JsonPath.string_at("$$.Map.Item.Value.manifest_key"),
                "chunk": sfn.JsonPath.number_at("$$.Map.Item.Value.chunk"),
            },
            result_path="$.results",
        )
        process_chunks.item_processor(lambda_task(self, "ProcessChunk", self.chunk_function, retry=retry))
        merge = lambda_task(
            self,
            "Merge",
            self.merge_function,
            retry=retry,
            payload={"job_id": JOB_ID, "results": sfn.JsonPath.list_at("$.results")},
        )
        wait_for_approval = tasks.LambdaInvoke(
            self,
            "WaitForApproval",
            lambda_function=self.approval_function,
            integration_pattern=sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
            payload=sfn.TaskInput.from_object(
                {
                    "job_id": JOB_ID,
                    "merged_key": sfn.JsonPath.string_at("$.merged_key"),
                    "task_token": sfn.JsonPath.task_token,
                    "attempt": sfn.JsonPath.number_at(
                        "$$.State.RetryCount"
                    ),  # a retry's token replaces the earlier one
                    "requested_at": sfn.JsonPath.string_at("$$.State.EnteredTime"),
                    "timeout_seconds": int(
                        approval_timeout.to_seconds()
                    ),  # with requested_at: the deadline in the message
                }
            ),
            # The one deadline: no HeartbeatSeconds, since nothing sends heartbeats while a person decides.
            task_timeout=sfn.Timeout.duration(approval_timeout),
            retry_on_service_exceptions=False,
            result_path="$.approval",
        )
        retry.apply(wait_for_approval)
        publish = lambda_task(
            self,
            "Publish",
            self.publish_function,
            retry=retry,
            payload={"job_id": JOB_ID, "merged_key": sfn.JsonPath.string_at("$.merged_key")},
        )
        definition = (
            split.next(process_chunks)
            .next(merge)
            .next(wait_for_approval)
            .next(publish)
            .next(sfn.Succeed(self, "Published"))
        )

        # How a job ends otherwise: any step that failed after its retries, a rejection or an expired
        # approval is recorded on the job, then the run ends as a decision (JobRejected) or a failure.
        record_failure = lambda_task(
            self,
            "RecordFailure",
            self.failure_function,
            retry=retry,
            payload={"job_id": JOB_ID, "error": sfn.JsonPath.object_at("$.error")},
            result_path="$.failure",
        )
        record_failure.next(
            sfn.Choice(self, "HowDidItEnd")
            .when(
                sfn.Condition.string_equals("$.failure.status", "REJECTED"),
                sfn.Succeed(self, "JobRejected", comment="A person rejected the result: a decision, not a fault"),
            )
            .when(
                sfn.Condition.string_equals("$.failure.status", "EXPIRED"),
                sfn.Fail(
                    self,
                    "ApprovalExpired",
                    error="ApprovalExpired",
                    cause="Nobody answered the approval request in time",
                ),
            )
            .otherwise(
                sfn.Fail(self, "JobFailed", error="JobFailed", cause="A step failed; the job record has the reason")
            )
        )
        wait_for_approval.add_catch(record_failure, errors=APPROVAL_TIMEOUT_ERRORS, result_path="$.error")
        for step in (split, process_chunks, merge, wait_for_approval, publish):
            step.add_catch(record_failure, result_path="$.error")  # for WaitForApproval: Rejected, or any other error

        self.state_machine = PatternStateMachine(
            self,
            "JobStateMachine",
            definition=definition,
            state_machine_type=sfn.StateMachineType.STANDARD,
            timeout=execution_timeout,
            log_level=sfn.LogLevel.ALL,
            # Not the data: WaitForApproval's input holds the task token, which answers the approval.
            include_execution_data=False,
        )
        acknowledge_task_qualifiers(
            self.state_machine,
            (
                self.split_function,
                self.chunk_function,
                self.merge_function,
                self.approval_function,
                self.publish_function,
                self.failure_function,
            ),
        )

        # Upload -> execution. A small function starts it (not an EventBridge rule): it names the
        # execution from the object's key and the event's sequencer, so S3's at-least-once delivery
        # cannot start one upload twice, while a new upload of the same file runs again; see
        # docs/patterns/5-standard-workflow.md for why, and for the EventBridge alternative.
        self.start_function = PatternFunction(
            self,
            "StartFunction",
            pattern=PATTERN,
            handler="start.main",
            description="Starts one StandardWorkflow execution per CSV uploaded under incoming/",
            timeout=Duration.seconds(30),
            environment={
                names.STATE_MACHINE_ARN_ENV: self.state_machine.state_machine_arn,
                names.GROUP_BY_ENV: group_by,
            },
        )
        self.start_invocation = AsyncInvoke(self.start_function, name="Start", event="upload events")
        self.state_machine.grant_start_execution(self.start_function)
        self.bucket.invoke_on_object_created(
            self.start_function, prefix=uploads, suffix=names.CSV_SUFFIX
        )  # no job for a folder marker or a .txt

    def _function(
        self, id: str, handler: str, timeout: Duration, environment: dict[str, str], **overrides: Any
    ) -> PatternFunction:
        return task_function(
            self,
            id,
            machine="StandardWorkflow",
            pattern=PATTERN,
            handler=f"handler.{handler}",
            description=f"StandardWorkflow task: {handler}",
            timeout=timeout,
            environment=environment,
            **overrides,
        )


class StandardWorkflowStack(Stack):
    """StandardWorkflow in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope,
            id,
            **{
                "description": "StandardWorkflow: S3 -> Step Functions Standard: split, Map, merge, approval, publish",
                **stack_props,
            },
        )
        self.pattern = StandardWorkflow(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.BUCKET_OUTPUT, value=self.pattern.bucket.bucket_name)
        CfnOutput(self, names.UPLOAD_PREFIX_OUTPUT, value=names.INCOMING_PREFIX)
        CfnOutput(self, names.STATE_MACHINE_ARN_OUTPUT, value=self.pattern.state_machine.state_machine_arn)
        CfnOutput(self, names.JOBS_TABLE_OUTPUT, value=self.pattern.jobs_table.table_name)
        CfnOutput(
            self,
            names.APPROVAL_TOPIC_OUTPUT,
            value=self.pattern.approval_topic.topic_arn,
            description="Subscribe to receive approval requests",
        )
        CfnOutput(self, names.START_FUNCTION_OUTPUT, value=self.pattern.start_function.function_name)
