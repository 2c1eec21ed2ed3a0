"""Names that cross a boundary, written once: stack <-> handler, stack outputs <-> tests and scripts.

The convention every pattern's `names.py` follows:
- `<THING>_ENV`: the name of an environment variable the stack sets and the handler reads
  (`os.environ[names.RESULTS_PREFIX_ENV]`); the handler tests set the same names.
- `<THING>_OUTPUT`: the key of a stack output (CfnOutput id) that scripts, end-to-end and smoke
  tests read from the deployed stack.
Only names live here, never values: the stack decides the values. The module imports nothing, so
it costs a handler nothing at cold start, and the construct library loads it from its file
(`pattern_names` in stacks/shared/code.py; the handler imports it as `from event_invoke import names`).
"""

# Environment variables of AnalyzeFunction.
RESULTS_PREFIX_ENV = "RESULTS_PREFIX"
MAX_OBJECT_BYTES_ENV = "MAX_OBJECT_BYTES"
IDEMPOTENCY_TABLE_ENV = "IDEMPOTENCY_TABLE"
IDEMPOTENCY_EXPIRY_SECONDS_ENV = "IDEMPOTENCY_EXPIRY_SECONDS"
METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"  # read by Powertools Metrics itself

# Stack outputs.
BUCKET_NAME_OUTPUT = "BucketName"
UPLOAD_PREFIX_OUTPUT = "UploadPrefix"
RESULTS_QUEUE_URL_OUTPUT = "ResultsQueueUrl"
FAILURES_QUEUE_URL_OUTPUT = "FailuresQueueUrl"
DEAD_LETTER_QUEUE_URL_OUTPUT = "DeadLetterQueueUrl"
FUNCTION_NAME_OUTPUT = "FunctionName"
