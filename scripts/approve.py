"""Approve or reject a StandardWorkflow job waiting for approval.

    make approve JOB=<job id>                              # approve: the job publishes its result
    make approve JOB=<job id> DECISION=reject REASON=...   # reject: the job ends REJECTED

Reads the job's task token from the jobs table (its name from the stack's JobsTableName output)
and sends SendTaskSuccess or SendTaskFailure. Prints one line; exits 1 with a clear message, never
a traceback, when there are no credentials, the job is unknown, it is not waiting for approval, or
its approval request was sent again (a retry, with a new token) between reading and answering.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "lambdas")]  # run as a file (make approve) or a module
from scripts import preflight  # noqa: E402
from scripts.preflight import Refused  # noqa: E402
from standard_workflow import names  # noqa: E402


def table_name(cloudformation: Any, stack: str) -> str:
    outputs = cloudformation.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for output in outputs:
        if output["OutputKey"] == names.JOBS_TABLE_OUTPUT:
            return output["OutputValue"]
    raise Refused(f"{stack} has no output {names.JOBS_TABLE_OUTPUT}; is it deployed?")


def decide(dynamodb: Any, sfn: Any, table: str, job_id: str, *, reject: bool, reason: str) -> str:
    item = dynamodb.get_item(TableName=table, Key={"job_id": {"S": job_id}}).get("Item")
    if not item:
        raise Refused(f"no job {job_id} in {table}")
    status = item.get("status", {}).get("S", "?")
    token = item.get("task_token", {}).get("S")
    if status != "AWAITING_APPROVAL" or not token:
        raise Refused(f"job {job_id} is {status}, not waiting for approval")
    try:
        if reject:
            sfn.send_task_failure(
                taskToken=token, error=names.REJECTED_ERROR, cause=reason or "rejected by an operator"
            )
            return f"job {job_id} rejected: {reason or 'no reason given'}"
        sfn.send_task_success(taskToken=token, output=json.dumps({"approved": True}))
        return f"job {job_id} approved: it will publish {item.get('merged_key', {}).get('S', 'its result')}"
    except ClientError as error:
        code = error.response["Error"]["Code"]
        if code not in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            raise
        # Step Functions retries a failed approval request with a new token, stored on the job:
        # the token read above may have been superseded meanwhile.
        now = dynamodb.get_item(TableName=table, Key={"job_id": {"S": job_id}}).get("Item") or {}
        if now.get("status", {}).get("S") == "AWAITING_APPROVAL" and now.get("task_token", {}).get("S") not in (
            None,
            token,
        ):
            raise Refused(
                f"job {job_id}'s approval request was sent again while you answered, and the token you answered is "
                f"superseded ({code}); "
                f"nothing was decided: run make approve JOB={job_id} again"
            ) from None
        raise Refused(
            f"job {job_id}'s approval request is no longer open ({code}): it expired or was answered"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("job")
    parser.add_argument("--decision", choices=["approve", "reject"], default="approve")
    parser.add_argument("--reason", default="")
    parser.add_argument("--stack", default="StandardWorkflow")
    args = parser.parse_args(argv)
    if not args.job:
        parser.error("name a job: make approve JOB=<job id>")

    def body() -> int:
        session = preflight.check(args.stack)
        table = table_name(session.client("cloudformation"), args.stack)
        client = session.client
        print(
            decide(
                client("dynamodb"),
                client("stepfunctions"),
                table,
                args.job,
                reject=args.decision == "reject",
                reason=args.reason,
            )
        )
        return 0

    return preflight.run("approve", body)


if __name__ == "__main__":
    sys.exit(main())
