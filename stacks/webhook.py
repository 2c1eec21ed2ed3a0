"""Pattern 8, Webhook: verify, answer within a second, do the slow work in the same function later.

    GitHub / Slack --POST /github, /slack--> WebhookUrl (AuthType NONE)
                                           --> WebhookFunction (URL path)
                                               | 1. verify HMAC (secret from
                                               |    GitHubWebhookSecret / SlackSigningSecret)
                                               | 2. body over 1 MiB: PayloadsBucket (claim check)
                                               | 3. SendMessage to WebhookQueue
                                               | 4. answer 200
                                 WebhookQueue (visibility 6 x function timeout, 5 receives)
                                   |                              \\ after 5 failed receives
                                   | mapping: MaximumConcurrency   +--> WebhookDLQ (alarm; make redrive)
                                   v  (default 5), batch item failures
                                 WebhookFunction (the same function, SQS path)
                                   | once per delivery id (IdempotencyTable)
                                   +--> DeliveriesTable; a claim check's payload deleted once done

Providers give up on a webhook after a few seconds, so the function answers as soon as the
signature checks out and hands the delivery to itself. The hand-off goes through the stack's own
queue rather than `InvocationType=Event`: Lambda has no cap for a function's asynchronous
invocations apart from its synchronous ones (reserved concurrency caps both, and a new account,
whose quota is 10, can reserve nothing), so a burst of slow self-invocations would take every
execution slot and the URL would answer 429. The SQS mapping's `MaximumConcurrency` caps the slow
path alone and reserves nothing: with `max_concurrency` below the account's limit, the URL path
always has a slot left (unless other functions take them).

One function, two entry shapes, told apart by the event's shape only: a URL request always has
`requestContext.http`; an SQS event is `{"Records": [...]}` from `aws:sqs`. No request a caller can
send takes the SQS path, and only this function may send to (or consume) the queue.

`reserved_concurrency` is opt-in (None by default: a new account has none to give); when set,
`max_concurrency` must stay below it so the URL keeps a reserved slot.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .shared import PatternFunction
from .shared.buckets import NotifyingBucket, secure_bucket
from .shared.code import pattern_names
from .shared.monitoring import DEFAULT_PERIOD, alarm
from .shared.pattern import ID_IN_ITS_OWN_STACK, PatternConstruct, split_stack_props
from .shared.queues import DLQ_RETENTION, consume, consumer_visibility_timeout, dead_letter_queue, secure_queue
from .shared.secrets import shared_secret
from .shared.tables import secure_table

PATTERN = "webhook"
MIN_RECEIVE_COUNT = 3
# Receives before the DLQ: AWS suggests at least 5 for a queue Lambda consumes, so that a message
# received while the function is throttled (the account's pool is shared) is not dead-lettered.
DEFAULT_RECEIVE_COUNT = 5
MIN_MAX_CONCURRENCY = 2  # the least an SQS mapping's MaximumConcurrency may be (Lambda API, ScalingConfig)
# What a Function URL (BUFFERED) passes to a function: the whole event, body included, is one
# synchronous invoke payload of at most 6 MB (Lambda quotas); a larger request is refused before
# the function runs. The handler's own limit defaults to that.
FUNCTION_URL_PAYLOAD_BYTES = 6 * 1024 * 1024
# SQS's largest message (body and attributes), and so the hand-off's: a delivery whose message
# would be larger is stored in PayloadsBucket and the message carries its key.
SQS_MAX_MESSAGE_BYTES = 1024 * 1024
# A stored payload is deleted once its delivery is processed. The lifecycle rule only removes what
# that leaves behind (a hand-off whose send failed, a delivery never redriven): a message lives at
# most the DLQ's retention from its first enqueue, but each redrive restarts it, so no expiry is
# long enough for every redrive; this one allows four DLQ retentions.
PAYLOAD_EXPIRY = Duration.days(4 * int(DLQ_RETENTION.to_days()))


class Webhook(PatternConstruct):
    """Function URL -> Lambda that verifies signatures, answers at once and hands the slow work to itself through SQS.

    Attributes: `function`, `function_url`, `queue`, `dead_letter_queue`, `mapping`, `deliveries_table`,
    `idempotency_table`, `github_secret`, `slack_secret`, `payloads_bucket`.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration = Duration.minutes(5),
        memory_size: int = 256,
        reserved_concurrency: int | None = None,
        max_concurrency: int = 5,
        batch_size: int = 1,
        max_receive_count: int = DEFAULT_RECEIVE_COUNT,
        max_body_bytes: int = FUNCTION_URL_PAYLOAD_BYTES,
        secret_max_age: Duration = Duration.minutes(5),
        idempotency_expiry: Duration = Duration.days(7),
        backlog_alarm_after: Duration = Duration.minutes(15),
        existing_github_secret: secretsmanager.ISecret | None = None,
        existing_slack_secret: secretsmanager.ISecret | None = None,
        existing_deliveries_table: dynamodb.ITable | None = None,
        **common: Any,
    ) -> None:
        super().__init__(scope, id, **common)
        self.names = names = pattern_names(self, PATTERN)
        if max_receive_count < MIN_RECEIVE_COUNT:
            raise ValueError(
                f"max_receive_count must be at least {MIN_RECEIVE_COUNT}: fewer sends throttled deliveries to the DLQ"
            )
        if max_concurrency < MIN_MAX_CONCURRENCY:
            raise ValueError(
                f"max_concurrency must be at least {MIN_MAX_CONCURRENCY} (the least an SQS mapping's "
                "MaximumConcurrency may be)"
            )
        if reserved_concurrency is not None and max_concurrency >= reserved_concurrency:
            raise ValueError(
                f"max_concurrency ({max_concurrency}) must be below reserved_concurrency ({reserved_concurrency}): "
                "the slow path would take every reserved slot and the URL would answer 429"
            )
        if not 0 < max_body_bytes <= FUNCTION_URL_PAYLOAD_BYTES:
            raise ValueError(
                f"max_body_bytes must be 1 to {FUNCTION_URL_PAYLOAD_BYTES}: a Function URL passes no larger request"
            )

        # The providers' secrets: generated on deploy, the real values put afterwards (docs/patterns/8-webhook.md).
        # Or secrets of yours that already hold them (a plain secret string each).
        self.github_secret = existing_github_secret or shared_secret(
            self, "GitHubWebhookSecret", description="GitHub webhook secret (X-Hub-Signature-256)", shared_with="GitHub"
        )
        self.slack_secret = existing_slack_secret or shared_secret(
            self, "SlackSigningSecret", description="Slack app signing secret (X-Slack-Signature)", shared_with="Slack"
        )

        # Where processed deliveries and idempotency records go.
        # Or an existing table of yours, keyed on the string attribute "delivery_id".
        self.deliveries_table = existing_deliveries_table or secure_table(
            self, "DeliveriesTable", partition_key="delivery_id"
        )
        self.idempotency_table = secure_table(
            self, "IdempotencyTable", partition_key="id", time_to_live_attribute="expiration"
        )

        # The hand-off: verified deliveries wait here for the slow path; after max_receive_count
        # failed receives one moves to the alarmed DLQ, from which `make redrive` brings it back.
        self.dead_letter_queue = dead_letter_queue(
            self, "WebhookDLQ", holds="deliveries whose slow work failed every attempt"
        )
        self.queue = secure_queue(
            self,
            "WebhookQueue",
            visibility_timeout=consumer_visibility_timeout(function_timeout),
            max_message_size_bytes=SQS_MAX_MESSAGE_BYTES,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
        )
        # A backlog is deliveries waiting for a slot: the queue has not been empty of visible
        # messages for `backlog_alarm_after`. Not the oldest message's age: a delivery whose work
        # failed once stays in the queue, invisible, for a whole visibility timeout (30 min by
        # default) and would page as a backlog; failures are the DLQ alarm's business.
        periods = max(1, round(backlog_alarm_after.to_seconds() / DEFAULT_PERIOD.to_seconds()))
        alarm(
            self,
            "WebhookQueueBacklog",
            metric=self.queue.metric_approximate_number_of_messages_visible(period=DEFAULT_PERIOD, statistic="Minimum"),
            threshold=1,
            evaluation_periods=periods,
            comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            description=(
                f"WebhookQueue has had deliveries waiting for {periods * 5} minutes without emptying: "
                "the slow path is not keeping up (raise max_concurrency if the account has room)"
            ),
        )

        # Claim checks: a verified payload too large for an SQS message, kept long enough for
        # any message that points at it, deleted with the stack. A NotifyingBucket for its derived
        # name and its prefix-scoped object grant (with s3:ListBucket, so a missing key is a 404);
        # it notifies nothing.
        access_logs = secure_bucket(self, "AccessLogsBucket")
        self.payloads_bucket = NotifyingBucket(
            self,
            "PayloadsBucket",
            purpose="payloads",
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="payloads/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireClaimChecks",
                    expiration=PAYLOAD_EXPIRY,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
        )

        # No fixed function name: nothing refers to the function by a name it must know in advance,
        # so two copies can sit side by side (even in one stack) and CloudFormation may replace it.
        self.function = PatternFunction(
            self,
            "WebhookFunction",
            pattern=PATTERN,
            description="Verifies webhook signatures, answers, and does the slow work from its own queue",
            timeout=function_timeout,
            memory_size=memory_size,
            reserved_concurrent_executions=reserved_concurrency,
            environment={
                # ARNs only: the handler reads the values from Secrets Manager at run time.
                names.GITHUB_SECRET_ENV: self.github_secret.secret_arn,
                names.SLACK_SECRET_ENV: self.slack_secret.secret_arn,
                names.DELIVERIES_TABLE_ENV: self.deliveries_table.table_name,
                names.IDEMPOTENCY_TABLE_ENV: self.idempotency_table.table_name,
                names.IDEMPOTENCY_EXPIRY_SECONDS_ENV: str(int(idempotency_expiry.to_seconds())),
                names.MAX_BODY_BYTES_ENV: str(max_body_bytes),
                names.SECRET_MAX_AGE_SECONDS_ENV: str(int(secret_max_age.to_seconds())),
                names.WORK_QUEUE_URL_ENV: self.queue.queue_url,
                names.HANDOFF_MAX_BYTES_ENV: str(SQS_MAX_MESSAGE_BYTES),
                names.PAYLOADS_BUCKET_ENV: self.payloads_bucket.derived_name,
            },
        )
        self.function.invoked_synchronously_by("its Function URL and its SQS event source mapping")
        self.github_secret.grant_read(self.function)
        self.slack_secret.grant_read(self.function)
        self.deliveries_table.grant(self.function, "dynamodb:PutItem")  # one record per delivery, nothing else
        self.idempotency_table.grant_read_write_data(self.function)
        self.queue.grant_send_messages(self.function)
        payloads_access = self.payloads_bucket.grant_object_access(
            self.function, read_write=[names.PAYLOADS_PREFIX], delete=[names.PAYLOADS_PREFIX]
        )

        # The slow path: the same function consumes its queue, at most max_concurrency at once.
        self.mapping = consume(
            self.function,
            self.queue,
            batch_size=batch_size,
            batching_window=Duration.seconds(0),
            max_concurrency=max_concurrency,
        )
        self.mapping.node.add_dependency(payloads_access)  # no poll before the claim-check grant exists

        # The public URL. AuthType NONE on purpose: GitHub and Slack cannot SigV4-sign a request,
        # so IAM auth would refuse every delivery. Authentication is the handler's HMAC check over
        # the raw body with the provider's secret, and it fails closed: a missing or wrong
        # signature (or an unknown path) is a 401 before anything is sent or stored.
        self.function_url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
        # A 5xx (the secret unreadable or empty, the hand-off failing, a crash) is a delivery the
        # provider will not send again on its own: each one is worth a look.
        alarm(
            self,
            "WebhookUrl5xx",
            metric=self.function.metric("Url5xxCount", period=DEFAULT_PERIOD, statistic="Sum"),
            threshold=1,
            description=(
                "WebhookUrl answered 5xx: deliveries were refused (secret unreadable or empty, hand-off "
                "failed); redeliver them from the provider after the fix"
            ),
        )


class WebhookStack(Stack):
    """Webhook in a stack of its own, with the outputs that tests, scripts and `make smoke` read."""

    def __init__(self, scope: Construct, id: str, **props: Any) -> None:
        stack_props, pattern_props = split_stack_props(props)
        super().__init__(
            scope,
            id,
            **{
                "description": "Webhook: Function URL -> signature check -> own queue -> the same function",
                **stack_props,
            },
        )
        self.pattern = Webhook(self, ID_IN_ITS_OWN_STACK, **pattern_props)
        names = self.pattern.names
        CfnOutput(self, names.FUNCTION_URL_OUTPUT, value=self.pattern.function_url.url)
        CfnOutput(self, names.FUNCTION_NAME_OUTPUT, value=self.pattern.function.function_name)
        CfnOutput(self, names.DELIVERIES_TABLE_NAME_OUTPUT, value=self.pattern.deliveries_table.table_name)
        CfnOutput(self, names.GITHUB_SECRET_ARN_OUTPUT, value=self.pattern.github_secret.secret_arn)
        CfnOutput(self, names.SLACK_SECRET_ARN_OUTPUT, value=self.pattern.slack_secret.secret_arn)
        CfnOutput(self, names.QUEUE_URL_OUTPUT, value=self.pattern.queue.queue_url)
        CfnOutput(self, names.QUEUE_ARN_OUTPUT, value=self.pattern.queue.queue_arn)
        CfnOutput(self, names.DEAD_LETTER_QUEUE_URL_OUTPUT, value=self.pattern.dead_letter_queue.queue_url)
        CfnOutput(self, names.DEAD_LETTER_QUEUE_ARN_OUTPUT, value=self.pattern.dead_letter_queue.queue_arn)
        CfnOutput(self, names.PAYLOADS_BUCKET_OUTPUT, value=self.pattern.payloads_bucket.bucket_name)
