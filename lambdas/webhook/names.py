"""Names that cross a boundary, written once: stack <-> handler, stack outputs <-> tests and scripts.

`<THING>_ENV` names an environment variable the stack sets and the handler reads;
`<THING>_OUTPUT` names a stack output that end-to-end and smoke tests read. Names only, never
values: the secrets themselves stay in Secrets Manager, the environment holds their ARNs.
"""

# Environment variables of WebhookFunction.
GITHUB_SECRET_ENV = "GITHUB_WEBHOOK_SECRET_ARN"  # secret string: the GitHub webhook secret
SLACK_SECRET_ENV = "SLACK_SIGNING_SECRET_ARN"  # secret string: the Slack app's signing secret
DELIVERIES_TABLE_ENV = "DELIVERIES_TABLE"  # partition key "delivery_id" (string)
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE"  # Powertools idempotency table, partition key "id"
IDEMPOTENCY_EXPIRY_SECONDS_ENV = "IDEMPOTENCY_EXPIRY_SECONDS"
MAX_BODY_BYTES_ENV = "MAX_BODY_BYTES"
SECRET_MAX_AGE_SECONDS_ENV = "SECRET_MAX_AGE_SECONDS"

# Stack outputs.
FUNCTION_URL_OUTPUT = "WebhookUrl"
FUNCTION_NAME_OUTPUT = "FunctionName"
DELIVERIES_TABLE_NAME_OUTPUT = "DeliveriesTableName"
GITHUB_SECRET_ARN_OUTPUT = "GitHubSecretArn"  # `aws secretsmanager put-secret-value --secret-id <this>`
SLACK_SECRET_ARN_OUTPUT = "SlackSecretArn"
FAILURES_QUEUE_URL_OUTPUT = "FailuresQueueUrl"  # invocation records of deliveries whose slow work failed
DEAD_LETTER_QUEUE_URL_OUTPUT = "DeadLetterQueueUrl"  # the failed internal events themselves
