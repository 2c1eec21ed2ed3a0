"""Names that cross a boundary, written once: stack <-> handler, stack outputs <-> tests and scripts.

`<THING>_ENV` names an environment variable the stack sets and the handler reads;
`<THING>_OUTPUT` names a stack output that end-to-end and smoke tests and scripts read. Names only,
never values: the secrets themselves stay in Secrets Manager, the environment holds their ARNs.
"""

# Environment variables of WebhookFunction.
GITHUB_SECRET_ENV = "GITHUB_WEBHOOK_SECRET_ARN"  # secret string: the GitHub webhook secret
SLACK_SECRET_ENV = "SLACK_SIGNING_SECRET_ARN"  # secret string: the Slack app's signing secret
DELIVERIES_TABLE_ENV = "DELIVERIES_TABLE"  # partition key "delivery_id" (string)
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE"  # Powertools idempotency table, partition key "id"
IDEMPOTENCY_EXPIRY_SECONDS_ENV = "IDEMPOTENCY_EXPIRY_SECONDS"
MAX_BODY_BYTES_ENV = "MAX_BODY_BYTES"  # the largest request body accepted (413 above it)
SECRET_MAX_AGE_SECONDS_ENV = "SECRET_MAX_AGE_SECONDS"
WORK_QUEUE_URL_ENV = "WORK_QUEUE_URL"  # the queue the URL path hands verified deliveries to
HANDOFF_MAX_BYTES_ENV = "HANDOFF_MAX_BYTES"  # a hand-off message larger than this goes by claim check
PAYLOADS_BUCKET_ENV = "PAYLOADS_BUCKET"  # where claim-checked payloads are stored

# Object keys of claim-checked payloads start with this (the function's S3 grant is scoped to it).
PAYLOADS_PREFIX = "payloads/"

# Stack outputs.
FUNCTION_URL_OUTPUT = "WebhookUrl"
FUNCTION_NAME_OUTPUT = "FunctionName"
DELIVERIES_TABLE_NAME_OUTPUT = "DeliveriesTableName"
GITHUB_SECRET_ARN_OUTPUT = "GitHubSecretArn"  # `aws secretsmanager put-secret-value --secret-id <this>`
SLACK_SECRET_ARN_OUTPUT = "SlackSecretArn"
# The hand-off queue and its dead-letter queue, under the names scripts/redrive.py reads
# (`make redrive STACK=Webhook` moves failed deliveries back after a fix).
QUEUE_URL_OUTPUT = "QueueUrl"
QUEUE_ARN_OUTPUT = "QueueArn"
DEAD_LETTER_QUEUE_URL_OUTPUT = "DeadLetterQueueUrl"  # deliveries whose slow work failed every receive
DEAD_LETTER_QUEUE_ARN_OUTPUT = "DeadLetterQueueArn"
PAYLOADS_BUCKET_OUTPUT = "PayloadsBucketName"
