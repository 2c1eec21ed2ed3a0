"""Step Functions helpers: moto executes machines (their type kept by `moto_patches`); what it
lacks is StartSyncExecution for EXPRESS machines, emulated here. Task tokens are answered with
the ordinary SendTaskSuccess/SendTaskFailure API."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from localcloud.async_invoke import client

T = TypeVar("T")


def wait_for(outcome: Callable[[], T | None], *, timeout: float = 30, what: str = "outcome") -> T:
    """Poll `outcome` until it returns something truthy: a bounded wait on an outcome, not a sleep."""
    deadline = time.monotonic() + timeout
    while not (result := outcome()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no {what} after {timeout} s")
        time.sleep(0.05)
    return result


def wait_for_execution(execution_arn: str, *, timeout: float = 30) -> dict[str, Any]:
    """The execution's description once it has left RUNNING."""
    sfn = client("stepfunctions", execution_arn)

    def finished() -> dict[str, Any] | None:
        execution = sfn.describe_execution(executionArn=execution_arn)
        return None if execution["status"] == "RUNNING" else execution

    return wait_for(finished, timeout=timeout, what=f"end of {execution_arn}")


def start_sync_execution(
    state_machine_arn: str,
    execution_input: Any = None,
    *,
    name: str | None = None,
    input_text: str | None = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """StartSyncExecution: only EXPRESS machines; answers with the API's response fields.

    `execution_input` is serialized to JSON; `input_text` is the input already as the request
    carries it (a JSON string, e.g. what an API Gateway mapping template rendered), passed as is.
    `name` is the execution's name (a fresh UUID when None). The answer has the documented
    fields: executionArn, stateMachineArn, name, status, startDate, stopDate, input and, as the
    run ended, output or error and cause.
    """
    if input_text is not None and execution_input is not None:
        raise ValueError("pass execution_input or input_text, not both")
    sfn = client("stepfunctions", state_machine_arn)
    machine_type = sfn.describe_state_machine(stateMachineArn=state_machine_arn)["type"]
    if machine_type != "EXPRESS":
        raise ValueError(
            f"StateMachineTypeNotSupported: StartSyncExecution needs an EXPRESS machine, not {machine_type}"
        )
    text = input_text if input_text is not None else json.dumps(execution_input)
    started = sfn.start_execution(stateMachineArn=state_machine_arn, name=name or str(uuid.uuid4()), input=text)
    execution = wait_for_execution(started["executionArn"], timeout=timeout)
    fields = (
        "executionArn",
        "stateMachineArn",
        "name",
        "status",
        "startDate",
        "stopDate",
        "input",
        "output",
        "error",
        "cause",
    )
    return {key: execution[key] for key in fields if key in execution}
