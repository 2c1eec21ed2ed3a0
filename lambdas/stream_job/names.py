"""Names that cross the boundary between the StreamJob stack and its handlers.

The stack sets these environment variables and outputs; handlers and tests import them from here.
"""

# Environment variables.
JOBS_TABLE_ENV = "JOBS_TABLE"  # the jobs table (job API and processor)
JOB_TTL_SECONDS_ENV = "JOB_TTL_SECONDS"  # how long a job record is kept after it is submitted

# Stack outputs.
JOBS_ENDPOINT_OUTPUT = "JobsEndpoint"  # https://.../v1/jobs: POST a job here, GET {endpoint}/{job_id} its status
JOBS_TABLE_OUTPUT = "JobsTableName"
STREAM_FAILURES_QUEUE_OUTPUT = "StreamFailuresQueueUrl"  # the processor mapping's on-failure destination

# What the processor's event source mapping lets through: new jobs only. Its own writes (MODIFY)
# and TTL deletions (REMOVE) never reach it, so it does not re-trigger itself.
PENDING_INSERT_FILTER = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["pending"]}}}}
