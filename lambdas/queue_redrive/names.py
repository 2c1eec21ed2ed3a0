"""Names that cross a boundary, written once: stack <-> handler, stack outputs <-> tests and scripts.

`<THING>_ENV` names an environment variable the stack sets and the handler reads;
`<THING>_OUTPUT` names a stack output that scripts (scripts/redrive.py), end-to-end and smoke
tests read. Names only, never values. See lambdas/event_invoke/names.py for the convention.
"""

# Environment variables of OrdersFunction.
ORDERS_TABLE_ENV = "ORDERS_TABLE"
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE"
IDEMPOTENCY_EXPIRY_SECONDS_ENV = "IDEMPOTENCY_EXPIRY_SECONDS"

# Stack outputs. scripts/redrive.py redrives any stack that has the two ARN outputs.
QUEUE_URL_OUTPUT = "QueueUrl"
QUEUE_ARN_OUTPUT = "QueueArn"
DEAD_LETTER_QUEUE_URL_OUTPUT = "DeadLetterQueueUrl"
DEAD_LETTER_QUEUE_ARN_OUTPUT = "DeadLetterQueueArn"
ORDERS_TABLE_NAME_OUTPUT = "OrdersTableName"
