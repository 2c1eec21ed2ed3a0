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
UPLOAD_PREFIX_OUTPUT = "UploadPrefix"
START_FUNCTION_OUTPUT = "StartFunctionName"

# S3 layout under the data bucket: uploads start jobs, jobs/<id>/ holds the work, published/ the results.
INCOMING_PREFIX = "incoming/"
JOBS_PREFIX = "jobs/"
PUBLISHED_PREFIX = "published/"
CSV_SUFFIX = ".csv"  # only these start a job: the notification's suffix filter and the start function

# Error names the approver sends with SendTaskFailure; record_failure maps them to a status.
REJECTED_ERROR = "Rejected"

# The start function (S3 -> an execution): which machine, which column to group by.
STATE_MACHINE_ARN_ENV = "STATE_MACHINE_ARN"
GROUP_BY_ENV = "GROUP_BY"
