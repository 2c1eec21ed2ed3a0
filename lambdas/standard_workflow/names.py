"""Names that cross the boundary between the StandardWorkflow stack, its handlers and scripts."""

# Environment variables.
BUCKET_ENV = "DATA_BUCKET"
JOBS_TABLE_ENV = "JOBS_TABLE"
APPROVAL_TOPIC_ENV = "APPROVAL_TOPIC_ARN"
CHUNK_BYTES_ENV = "CHUNK_BYTES"
MAX_CHUNKS_ENV = "MAX_CHUNKS"

# Stack outputs.
STATE_MACHINE_ARN_OUTPUT = "StateMachineArn"
BUCKET_OUTPUT = "DataBucketName"
JOBS_TABLE_OUTPUT = "JobsTableName"
APPROVAL_TOPIC_OUTPUT = "ApprovalTopicArn"

# S3 layout under the data bucket.
JOBS_PREFIX = "jobs/"
PUBLISHED_PREFIX = "published/"

# Error names the approver sends with SendTaskFailure; record_failure maps them to a status.
REJECTED_ERROR = "Rejected"
