"""Move the messages of a dead-letter queue back to its source queue, after the fix is deployed.

    .venv/bin/python -m scripts.redrive QueueRedrive         # queues from the stack's outputs
    .venv/bin/python -m scripts.redrive --dlq-arn ARN --destination-arn ARN [--rate 50]
    make redrive STACK=QueueRedrive

It starts an SQS message move task (StartMessageMoveTask, the console's "Start DLQ redrive") and
reports its progress until it completes. Messages keep their bodies and attributes; their receive
counts start again. The task refuses to start while another one runs on the same DLQ.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from lambdas.queue_redrive import names
from scripts import preflight

FINISHED = {"COMPLETED", "CANCELLED", "FAILED"}


def queue_arns_from_stack(cloudformation: Any, stack_name: str) -> tuple[str, str]:
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    try:
        return outputs[names.DEAD_LETTER_QUEUE_ARN_OUTPUT], outputs[names.QUEUE_ARN_OUTPUT]
    except KeyError as missing:
        raise preflight.Refused(f"{stack_name} has no output {missing}: pass --dlq-arn and --destination-arn") from None


def redrive(
    sqs: Any,
    dlq_arn: str,
    destination_arn: str,
    *,
    rate: int | None = None,
    poll_seconds: float = 5,
    sleep: Callable[[float], None] = time.sleep,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start the move task and wait for it to finish; return its final description."""
    options: dict[str, Any] = {"SourceArn": dlq_arn, "DestinationArn": destination_arn}
    if rate:
        options["MaxNumberOfMessagesPerSecond"] = rate
    handle = sqs.start_message_move_task(**options)["TaskHandle"]
    report(f"moving messages from {dlq_arn} to {destination_arn}")
    while True:
        tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
        task = next((t for t in tasks if t.get("TaskHandle") == handle), tasks[0] if tasks else {})
        status = task.get("Status", "UNKNOWN")
        report(
            f"{status}: {task.get('ApproximateNumberOfMessagesMoved', 0)} of "
            f"{task.get('ApproximateNumberOfMessagesToMove', '?')} moved"
        )
        if status in FINISHED:
            return task
        sleep(poll_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("stack", nargs="?", help="a stack with DeadLetterQueueArn and QueueArn outputs")
    parser.add_argument("--dlq-arn")
    parser.add_argument("--destination-arn")
    parser.add_argument("--rate", type=int, help="messages per second (default: as fast as SQS allows)")
    args = parser.parse_args(argv)
    if not args.stack and not (args.dlq_arn and args.destination_arn):
        parser.error("name a stack, or pass --dlq-arn and --destination-arn")

    def body() -> int:
        if args.stack:
            session = preflight.check(args.stack)
            dlq_arn, destination_arn = queue_arns_from_stack(session.client("cloudformation"), args.stack)
        else:
            session = preflight.session()
            dlq_arn, destination_arn = args.dlq_arn, args.destination_arn
        task = redrive(session.client("sqs"), dlq_arn, destination_arn, rate=args.rate)
        if task.get("Status") != "COMPLETED":
            raise preflight.Refused(
                f"move task ended {task.get('Status')}: {task.get('FailureReason', 'no reason given')}"
            )
        return 0

    return preflight.run("redrive", body)


if __name__ == "__main__":
    sys.exit(main())
