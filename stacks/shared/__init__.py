"""The shared construct library: the project's defaults, written once.

- `pattern`: `PatternConstruct`, the base of every pattern construct (`ApiSync`, `Webhook`, ...):
  the props every pattern accepts (removal policy, existing alarm topic, `*_props`, code
  directory), checked, and names unique per pattern in a stack.
- `code`: where the Lambda code is (the one place that says so), each pattern's code asset and
  its `names.py`.
- `settings`: context-driven choices (removal policy, log retention, Powertools layer version).
- `props`: how every construct merges its defaults with a caller's props (the caller wins).
- `PatternFunction`: a Lambda function with runtime, architecture, tracing, logs, role, layer and
  error/throttle alarms set; every default overridable.
- `AsyncInvoke` (async_invoke.py): retries, event age, destinations, DLQ and delivery alarms for a
  function invoked asynchronously.
- `consume_stream` (streams.py): a DynamoDB stream consumer: filters, bounded retries, bisect,
  batch failures, an alarmed failure queue, an IteratorAge alarm.
- `PatternStateMachine` (state_machine.py): vended log group, X-Ray, timeout, execution alarms.
- `NotifyingBucket`, `secure_bucket` (buckets.py), `secure_queue`, `dead_letter_queue` (queues.py),
  `secure_table` (tables.py).
- `PatternRestApi`: a REST API with IAM auth, throttling, access logs, JSON errors and alarms.
- `monitoring`: the stack's alarm topic and alarm helpers.
- `dashboard`: the stack's CloudWatch dashboard, which each construct above adds its graphs to.
- `checks`: CloudFormation validation and cdk-nag packs for a whole app: `add_checks(app)`.
"""

from .api import PatternRestApi
from .function import PatternFunction

__all__ = ["PatternFunction", "PatternRestApi"]
