"""ExpressWorkflow's API Gateway mapping templates (Velocity), kept as files so they read as VTL.

- request.vtl: the method's body -> StartSyncExecution's request.
- response.vtl: the integration response for HTTP 200: SUCCEEDED -> the output, or 400 when the
  output's outcome is `${RejectedOutcome}` (a rejected order is a successful run); TIMED_OUT -> 504;
  any failure -> 502. Never a 200 for a failed run.
- start_failed.vtl: the integration response for a non-2xx from Step Functions (throttling -> 503).

`load("request.vtl", StateMachineArn=machine.state_machine_arn)` fills the `${Name}` placeholders;
a CDK token is a string, so the ARN resolves at deploy time. `response(...)` is response.vtl as the
stack deploys it.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(name: str, **substitutions: str) -> str:
    text = (HERE / name).read_text()
    for key, value in substitutions.items():
        placeholder = "${" + key + "}"
        if placeholder not in text:
            raise KeyError(f"{name} has no placeholder {placeholder}")
        text = text.replace(placeholder, value)
    return text


def response(rejected_outcome: str) -> str:
    """response.vtl with the outcome the Validate function writes for a rejected order
    (`REJECTED_OUTCOME` of the Lambda code's express_workflow/names.py)."""
    return load("response.vtl", RejectedOutcome=rejected_outcome)
