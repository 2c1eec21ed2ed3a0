"""Pattern 8, Webhook: verify, answer within a second, do the slow work asynchronously.

    GitHub / Slack --POST /github, /slack--> WebhookUrl (AuthType NONE) --> WebhookFunction
                                                                               | 1. verify HMAC (secret from
                                                                               |    GitHubWebhookSecret / SlackSigningSecret)
                                                                               | 2. invoke itself, InvocationType=Event
                                                                               | 3. answer 200
                                 WebhookFunction (the same function) <--------+
                                   | once per delivery id (IdempotencyTable)
                                   +--> DeliveriesTable
                                   | retries, max event age
                                   +--> WebhookFailures (on-failure) / WebhookDLQ (the event)

Providers give up on a webhook after a few seconds and send it again, so the function answers as
soon as the signature checks out and hands the delivery to itself asynchronously. Lambda's event
queue then retries the slow work and reports what still fails. One function, two entry shapes: a
URL request always has `requestContext.http`; the internal event is `{"webhook_delivery": ...}`,
a shape no HTTP request can take, so the slow path is not reachable from the URL.

The self-invoke permission names the function's ARN built from its name, and its name is derived
from the stack name: a reference to the function itself (`fn.grant_invoke(fn)`) would make the
function depend on its own role policy, which depends on the function (a CloudFormation cycle).
`reserved_concurrency` (none by default: a new account has none to give) bounds both paths, so a
flood of deliveries cannot take the account's concurrency; throttled async events wait in
Lambda's queue up to `max_event_age`.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Aws, CfnOutput, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas.webhook import names
from stacks.shared import PatternFunction
from stacks.shared.async_invoke import AsyncInvoke
from stacks.shared.secrets import shared_secret
from stacks.shared.tables import secure_table

PATTERN = "webhook"
FUNCTION_NAME_SUFFIX = "-webhook"
MAX_FUNCTION_NAME_LENGTH = 64


class WebhookStack(Stack):
    """Function URL -> Lambda that verifies signatures, answers at once and invokes itself asynchronously."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function_timeout: Duration = Duration.minutes(5),
        memory_size: int = 256,
        reserved_concurrency: int | None = None,
        retry_attempts: int = 2,
        max_event_age: Duration = Duration.hours(6),
        max_body_bytes: int = 256 * 1024,
        secret_max_age: Duration = Duration.minutes(5),
        idempotency_expiry: Duration = Duration.days(7),
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, description="Webhook: Function URL -> signature check -> self-invoke asynchronously", **kwargs)  # type: ignore[arg-type]
        if len(self.stack_name) + len(FUNCTION_NAME_SUFFIX) > MAX_FUNCTION_NAME_LENGTH:
            raise ValueError(f"stack name {self.stack_name!r} is too long: the function is named <stack name>{FUNCTION_NAME_SUFFIX} (64 characters at most)")

        # The providers' secrets: generated on deploy, the real values put afterwards (README).
        self.github_secret = shared_secret(self, "GitHubWebhookSecret", description="GitHub webhook secret (X-Hub-Signature-256)", shared_with="GitHub")
        self.slack_secret = shared_secret(self, "SlackSigningSecret", description="Slack app signing secret (X-Slack-Signature)", shared_with="Slack")

        # Where processed deliveries and idempotency records go.
        self.deliveries_table = secure_table(self, "DeliveriesTable", partition_key="delivery_id")
        self.idempotency_table = secure_table(self, "IdempotencyTable", partition_key="id", time_to_live_attribute="expiration")

        # The function, named from the stack (AWS::StackName), so its own ARN needs no reference to it.
        function_name = f"{Aws.STACK_NAME}{FUNCTION_NAME_SUFFIX}"
        self.function = PatternFunction(
            self,
            "WebhookFunction",
            pattern=PATTERN,
            description="Verifies webhook signatures, answers, and does the slow work in its own async invocation",
            function_name=function_name,
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
            },
        )
        self.function_arn = self.format_arn(
            service="lambda", resource="function", resource_name=function_name, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        # May invoke itself and nothing else (never `grant_invoke(self.function)`: a cycle).
        self.function.add_to_role_policy(iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.function_arn]))
        self.github_secret.grant_read(self.function)
        self.slack_secret.grant_read(self.function)
        self.deliveries_table.grant(self.function, "dynamodb:PutItem")  # one record per delivery, nothing else
        self.idempotency_table.grant_read_write_data(self.function)

        # The slow path: retries, event age, on-failure destination and DLQ, each alarmed.
        self.invocation = AsyncInvoke(
            self.function,
            name="Webhook",
            event="webhook deliveries",
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )

        # The public URL. AuthType NONE on purpose: GitHub and Slack cannot SigV4-sign a request,
        # so IAM auth would refuse every delivery. Authentication is the handler's HMAC check over
        # the raw body with the provider's secret, and it fails closed: a missing or wrong
        # signature (or an unknown path) is a 401 before anything is invoked or stored.
        self.function_url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)

        CfnOutput(self, names.FUNCTION_URL_OUTPUT, value=self.function_url.url)
        CfnOutput(self, names.FUNCTION_NAME_OUTPUT, value=self.function.function_name)
        CfnOutput(self, names.DELIVERIES_TABLE_NAME_OUTPUT, value=self.deliveries_table.table_name)
        CfnOutput(self, names.GITHUB_SECRET_ARN_OUTPUT, value=self.github_secret.secret_arn)
        CfnOutput(self, names.SLACK_SECRET_ARN_OUTPUT, value=self.slack_secret.secret_arn)
        CfnOutput(self, names.FAILURES_QUEUE_URL_OUTPUT, value=self.invocation.failure_queue.queue_url)
        CfnOutput(self, names.DEAD_LETTER_QUEUE_URL_OUTPUT, value=self.invocation.dead_letter_queue.queue_url)
