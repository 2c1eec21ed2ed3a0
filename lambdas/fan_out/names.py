"""Names that cross the boundary between the FanOut stack and its handlers.

The stack sets these environment variables and outputs; handlers and tests import them from here.
"""

# Environment variables.
BATCHES_TABLE_ENV = "BATCHES_TABLE"  # the batches table (parent, child, chunk-failed handler)
CHILD_FUNCTION_ENV = "CHILD_FUNCTION_NAME"  # the function the parent invokes once per chunk
BATCH_TTL_SECONDS_ENV = "BATCH_TTL_SECONDS"  # how long a batch and its chunk results are kept

# Stack outputs.
BATCHES_ENDPOINT_OUTPUT = "BatchesEndpoint"  # the REST API's base URL (IAM-authorized); POST {endpoint}batches
BATCHES_TABLE_OUTPUT = "BatchesTableName"
CHILD_FUNCTION_OUTPUT = "ChildFunctionName"
CHUNK_FAILURES_QUEUE_OUTPUT = "ChunkFailuresQueueUrl"  # the child's on-failure destination
