"""The shared construct library: the project's defaults, written once.

- `settings`: context-driven choices (removal policy, log retention, Powertools layer version).
- `PatternFunction`: a Lambda function with runtime, architecture, tracing, logs, role and layer set.
- `PatternRestApi`: a REST API with IAM auth, throttling, access logs, JSON errors and alarms.
- `monitoring`: the stack's alarm topic and alarm helpers.
- `checks`: CloudFormation validation and cdk-nag packs for the whole app.
"""

from stacks.shared.api import PatternRestApi
from stacks.shared.function import PatternFunction

__all__ = ["PatternFunction", "PatternRestApi"]
