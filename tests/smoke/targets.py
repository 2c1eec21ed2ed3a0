"""Where the smoke suite runs: a stack deployed in an AWS account, or the same synthesized stack in
a LocalCloud. Every pattern's test module is written once against `Target`; each call prints one
readable line (what was sent, where it went, what came back) that `make smoke` shows.

Each call, on an AwsTarget and on a LocalTarget:
- `outputs`: the stack's CloudFormation outputs; the local deployment's outputs (same names).
- `client(service)`: boto3 with your credentials and region; boto3 in the local account.
- `post/get(url, ...)`: HTTPS to API Gateway, SigV4-signed unless `signed=False`; `Deployment.request`
  (`localcloud.rest_api`): the template's routes, IAM auth, request models, Lambda proxy or
  StartSyncExecution integration.
- `http(method, url, headers, body)`: plain HTTPS (a Lambda function URL); `Deployment.request`
  (`localcloud.function_urls`).
- `upload`, `send_message`, `take_messages`: S3 and SQS; S3 and SQS (notifications, async invokes and
  mappings emulated).
- `wait_until(predicate, deadline, describe)`: polls every 2 s until the deadline; before each poll,
  runs the stack's event source mappings (LocalCloud polls them only when asked).
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from localcloud.responses import HttpResponse

T = TypeVar("T")
WIDTH = 110


def say(line: str) -> None:
    """One step of the smoke output: on the terminal under `make smoke` (SMOKE_STEPS=1, while the
    functions' own logs stay captured), captured by pytest otherwise and shown with a failure."""
    stream = sys.__stdout__ if os.environ.get("SMOKE_STEPS") == "1" and sys.__stdout__ is not None else sys.stdout
    print(line, file=stream, flush=True)


def short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= WIDTH else text[: WIDTH - 3] + "..."


def wait_until(
    predicate: Callable[[], T],
    *,
    deadline: float,
    describe: str,
    pump: Callable[[], object] = lambda: None,
    interval: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Poll `predicate` until it returns something truthy and return that: a bounded wait on an
    outcome, never a fixed sleep. `pump` runs before each poll. AssertionError after `deadline` s."""
    start = clock()
    polls = 0
    while True:
        pump()
        polls += 1
        if result := predicate():
            say(f"    ok: {describe} (after {clock() - start:.1f} s, {polls} poll{'s' if polls > 1 else ''})")
            return result
        if clock() - start > deadline:
            raise AssertionError(f"gave up waiting for {describe} after {deadline:g} s ({polls} polls)")
        sleep(interval)


class Target:
    """One deployed stack, wherever it runs. Subclasses provide the transport."""

    name = ""
    interval = 0.05

    def __init__(self, stack_id: str, outputs: dict[str, str]) -> None:
        self.stack_id = stack_id
        self.outputs = outputs

    def client(self, service: str) -> Any:
        raise NotImplementedError

    # --- HTTP --------------------------------------------------------------------------------

    def post(self, url: str, body: Any, *, signed: bool = True) -> HttpResponse:
        return self.api("POST", url, body, signed=signed)

    def get(self, url: str, *, signed: bool = True) -> HttpResponse:
        return self.api("GET", url, None, signed=signed)

    def api(self, method: str, url: str, body: Any, *, signed: bool = True) -> HttpResponse:
        """A request to the stack's REST API (IAM auth: signed with SigV4 unless `signed=False`)."""
        unsigned = " (unsigned)" if not signed else ""
        say(f"  {method} {self.show(url)}{unsigned} {short(body) if body is not None else ''}".rstrip())
        response = self._api(method, url, body, signed=signed)
        say(f"    <- {response.status} {short(response.text)}{f'   [{response.via}]' if response.via else ''}")
        return response

    def http(self, method: str, url: str, *, headers: dict[str, str], body: bytes) -> HttpResponse:
        """A plain HTTPS request (a Lambda function URL with auth type NONE)."""
        say(f"  {method} {self.show(url)} {short(body.decode('utf-8', 'replace'))}")
        response = self._http(method, url, headers, body)
        say(f"    <- {response.status} {short(response.text)}{f'   [{response.via}]' if response.via else ''}")
        return response

    def show(self, url: str) -> str:
        return url

    def _api(self, method: str, url: str, body: Any, *, signed: bool) -> HttpResponse:
        raise NotImplementedError

    def _http(self, method: str, url: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        raise NotImplementedError

    # --- S3 and SQS ----------------------------------------------------------------------------

    def upload(self, bucket: str, key: str, body: bytes) -> None:
        self.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
        say(f"  PUT s3://{bucket}/{key} ({len(body)} bytes)")

    def send_message(self, queue_url: str, body: str) -> None:
        message_id = self.client("sqs").send_message(QueueUrl=queue_url, MessageBody=body)["MessageId"]
        say(f"  SEND {queue_url.rsplit('/', 1)[-1]} {short(body)} -> message {message_id}")

    def take_messages(self, queue_url: str, matching: Callable[[str], bool]) -> list[str]:
        """Receive what is visible on a queue; delete and return the bodies `matching` accepts and
        make the others visible again at once (the queue may hold other runs' messages)."""
        sqs = self.client("sqs")
        taken: list[str] = []
        seen: set[str] = set()
        while True:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=30).get(
                "Messages", []
            )
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                break
            for message in fresh:
                seen.add(message["MessageId"])
                if matching(message["Body"]):
                    taken.append(message["Body"])
                    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                else:
                    sqs.change_message_visibility(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                    )
        return taken

    # --- waiting -------------------------------------------------------------------------------

    def wait_until(self, predicate: Callable[[], T], *, deadline: float, describe: str) -> T:
        say(f"  waiting for {describe} (at most {deadline:g} s)")
        return wait_until(predicate, deadline=deadline, describe=describe, pump=self.pump, interval=self.interval)

    def pump(self) -> None:
        """Whatever must run before each poll for the deployed stack to make progress."""


class AwsTarget(Target):
    """A stack deployed in the account and region of the current AWS credentials."""

    name = "aws"
    interval = 2.0

    def __init__(self, stack_id: str, session: Any, outputs: dict[str, str]) -> None:
        super().__init__(stack_id, outputs)
        self.session = session
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def _api(self, method: str, url: str, body: Any, *, signed: bool) -> HttpResponse:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        data = None if body is None else json.dumps(body).encode()
        request = AWSRequest(method=method, url=url, data=data, headers={"Content-Type": "application/json"})
        if signed:
            SigV4Auth(self.session.get_credentials(), "execute-api", self.session.region_name).add_auth(request)
        response = self._send(urllib.request.Request(url, data=data, headers=dict(request.headers), method=method))
        response.via = f"API Gateway {(urlsplit(url).hostname or '').split('.')[0]}"
        return response

    def _http(self, method: str, url: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        return self._send(urllib.request.Request(url, data=body, headers=headers, method=method))

    @staticmethod
    def _send(request: urllib.request.Request) -> HttpResponse:
        try:
            with urllib.request.urlopen(request, timeout=35) as answer:  # noqa: S310 (https URLs from stack outputs)
                return HttpResponse.of(answer.status, answer.read(), dict(answer.headers))
        except urllib.error.HTTPError as error:
            return HttpResponse.of(error.code, error.read(), dict(error.headers))


class LocalTarget(Target):
    """The same stack deployed into a LocalCloud (moto), its handlers run in-process."""

    name = "local"

    def __init__(self, deployment: Any) -> None:
        super().__init__(deployment.stack_id, deployment.outputs)
        self.deployment = deployment
        self.caller = f"arn:aws:iam::{deployment.cloud.account}:user/smoke"  # who signs, when a request is signed
        self.mappings = [
            self._mapping(props)
            for props in (
                r["Properties"] for r in deployment.resources_of_type("AWS::Lambda::EventSourceMapping").values()
            )
        ]

    def _mapping(self, props: dict[str, Any]) -> tuple[str, str]:
        """(kind, function name) of an event source mapping: "stream" or "sqs"."""
        function = self.deployment.resolve(props["FunctionName"])
        _, attribute = props["EventSourceArn"]["Fn::GetAtt"]
        return ("stream" if attribute == "StreamArn" else "sqs", function)

    def client(self, service: str) -> Any:
        return self.deployment.client(service)

    def show(self, url: str) -> str:
        parts = urlsplit(url)
        if ".execute-api." in (parts.hostname or ""):
            return f"{self.stack_id} API /{parts.path.strip('/').partition('/')[2]}"  # the stage segment is moto's
        return url

    def _api(self, method: str, url: str, body: Any, *, signed: bool) -> HttpResponse:
        return self.deployment.request(method, url, body=body, signed_by=self.caller if signed else None)

    def _http(self, method: str, url: str, headers: dict[str, str], body: bytes) -> HttpResponse:
        return self.deployment.request(method, url, headers=headers, body=body)

    def pump(self) -> None:
        for kind, function in self.mappings:
            (self.deployment.cloud.drain_stream if kind == "stream" else self.deployment.cloud.drain_sqs)(function)
