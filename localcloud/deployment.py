"""One stack of a cloud assembly, deployed into a LocalCloud's moto account, unchanged.

`cloud.deploy(assembly_dir, "ApiSync")` does what `cdk deploy` needs from an account: it prepares
what `cdk bootstrap` would have (the asset bucket holding each function's code zip, the bootstrap
version parameter), points the template's public SSM parameters (the Powertools layer) at local
copies, creates the stack from the synthesized template, and waits for it. The `Deployment` then
answers what a test needs: outputs, physical ids, ARNs, invocations and queue contents.
"""

from __future__ import annotations

import functools
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError

from localcloud import moto_patches, rules
from localcloud.resources import StackResources
from localcloud.responses import HttpResponse

if TYPE_CHECKING:
    from localcloud.cloud import LocalCloud
    from localcloud.rest_api import LocalRestApi

BOOTSTRAP_QUALIFIER = "hnb659fds"
FAKE_LAYER_ARN = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:1"


def zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


# (resource type, attribute) -> the deployed value, from the deployment and the physical id.
Getter = Callable[["Deployment", str], str]
ATTRIBUTES: dict[tuple[str, str], Getter] = {
    ("AWS::SQS::Queue", "Arn"): lambda d, physical: d.client("sqs").get_queue_attributes(
        QueueUrl=physical, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"],
    ("AWS::SQS::Queue", "QueueName"): lambda d, physical: physical.rsplit("/", 1)[1],
    ("AWS::Lambda::Function", "Arn"): lambda d, physical: d.client("lambda").get_function(FunctionName=physical)[
        "Configuration"
    ]["FunctionArn"],
    ("AWS::Lambda::Url", "FunctionUrl"): lambda d, physical: d.client("lambda").get_function_url_config(
        FunctionName=physical
    )["FunctionUrl"],
    ("AWS::Lambda::Url", "FunctionArn"): lambda d, physical: physical,
    ("AWS::DynamoDB::Table", "Arn"): lambda d, physical: d.client("dynamodb").describe_table(TableName=physical)[
        "Table"
    ]["TableArn"],
    ("AWS::DynamoDB::Table", "StreamArn"): lambda d, physical: d.client("dynamodb").describe_table(TableName=physical)[
        "Table"
    ]["LatestStreamArn"],
    ("AWS::S3::Bucket", "Arn"): lambda d, physical: f"arn:aws:s3:::{physical}",
    ("AWS::Events::EventBus", "Arn"): lambda d, physical: d.client("events").describe_event_bus(Name=physical)["Arn"],
    ("AWS::SNS::Topic", "TopicArn"): lambda d, physical: physical,
    ("AWS::StepFunctions::StateMachine", "Arn"): lambda d, physical: physical,
}


class Deployment(StackResources):
    """One stack of a cloud assembly, deployed into a LocalCloud."""

    def __init__(self, cloud: LocalCloud, assembly_dir: str | Path, stack_id: str) -> None:
        self.cloud = cloud
        self.assembly_dir = Path(assembly_dir)
        self.stack_id = stack_id
        self.region = cloud.region
        self.account = cloud.account
        super().__init__(json.loads((self.assembly_dir / f"{stack_id}.template.json").read_text()), {}, {})

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    # --- deploying ---------------------------------------------------------------------------

    def deploy(self) -> Deployment:
        self._bootstrap()
        pseudo = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_id,
            "AWS::Partition": "aws",
        }
        rules.check_rules(self.template, pseudo, self._ssm_parameter_values())
        cloudformation = self.client("cloudformation")
        cloudformation.create_stack(
            StackName=self.stack_id,
            TemplateBody=json.dumps(self.template),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        stack = self._wait_for_stack(cloudformation)
        self.outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
        self.physical_ids = {
            r["LogicalResourceId"]: r["PhysicalResourceId"]
            for r in cloudformation.list_stack_resources(StackName=self.stack_id)["StackResourceSummaries"]
        }
        return self

    def _bootstrap(self) -> None:
        """What `cdk bootstrap` leaves in an account, the public Powertools layer parameter, and the
        assets `cdk deploy` uploads."""
        self.client("ssm").put_parameter(
            Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String", Overwrite=True
        )
        for parameter in self.template.get("Parameters", {}).values():
            default = parameter.get("Default", "")
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value") and default.startswith(
                "/aws/service/powertools/"
            ):
                moto_patches.put_public_parameter(
                    self.account, self.region, default, FAKE_LAYER_ARN.format(region=self.region)
                )
        manifest = json.loads((self.assembly_dir / f"{self.stack_id}.assets.json").read_text())
        s3 = self.client("s3")
        for asset in manifest.get("files", {}).values():
            if asset["source"].get("packaging") != "zip":
                continue
            body = zip_directory(self.assembly_dir / asset["source"]["path"])
            for destination in asset["destinations"].values():
                bucket = (
                    destination["bucketName"]
                    .replace("${AWS::AccountId}", self.account)
                    .replace("${AWS::Region}", self.region)
                )
                if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                    located = (
                        {}
                        if self.region == "us-east-1"
                        else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
                    )
                    s3.create_bucket(Bucket=bucket, **located)
                s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)

    def _ssm_parameter_values(self) -> dict[str, str]:
        """The values of the template's SSM-typed parameters, read as CloudFormation reads them."""
        ssm = self.client("ssm")
        wanted = {
            name: spec["Default"]
            for name, spec in self.template.get("Parameters", {}).items()
            if spec["Type"].startswith("AWS::SSM::Parameter::Value") and "Default" in spec
        }
        found = (
            {p["Name"]: p["Value"] for p in ssm.get_parameters(Names=list(wanted.values()))["Parameters"]}
            if wanted
            else {}
        )
        missing = [path for path in wanted.values() if path not in found]
        if missing:  # CloudFormation's answer, before anything is created
            message = f"Unable to fetch parameters [{','.join(missing)}] from parameter store for this account."
            raise ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "CreateStack")
        return {name: found[path] for name, path in wanted.items()}

    def _wait_for_stack(self, cloudformation: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            stack = cloudformation.describe_stacks(StackName=self.stack_id)["Stacks"][0]
            if not stack["StackStatus"].endswith("IN_PROGRESS"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.stack_id} still {stack['StackStatus']}")
            time.sleep(0.05)
        if stack["StackStatus"] != "CREATE_COMPLETE":
            events = cloudformation.describe_stack_events(StackName=self.stack_id)["StackEvents"]
            failed = [
                f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}"
                for e in events
                if e["ResourceStatus"] == "CREATE_FAILED"
            ]
            raise RuntimeError(
                f"{self.stack_id}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}".rstrip()
                + "".join(f"\n  {line}" for line in failed)
            )
        described: dict[str, Any] = stack
        return described

    # --- reading the deployed stack ----------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """The deployed value of a template expression: a literal, Ref, Fn::GetAtt or Fn::Join of those."""
        if not isinstance(value, dict):
            return value
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(part)) for part in parts)
        if "Ref" in value:
            return self.physical_ids[value["Ref"]]
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.attribute(logical_id, attribute)
        raise ValueError(f"cannot resolve {value}")

    def attribute(self, logical_id: str, attribute: str) -> str:
        """Fn::GetAtt of a deployed resource, from the ATTRIBUTES table."""
        resource_type = self.template["Resources"][logical_id]["Type"]
        getter = ATTRIBUTES.get((resource_type, attribute))
        if getter is None:
            raise ValueError(f"{resource_type}.{attribute} is not in localcloud.deployment.ATTRIBUTES yet")
        return getter(self, self.physical_ids[logical_id])

    def function_url(self, prefix: str = "") -> str:
        """The URL of the stack's one `AWS::Lambda::Url` whose logical id starts with `prefix`."""
        return self.attribute(self.logical_id("AWS::Lambda::Url", prefix), "FunctionUrl")

    # --- driving it ---------------------------------------------------------------------------

    def invoke(self, function_prefix: str, event: Any) -> tuple[Any, str | None]:
        """Invoke a deployed function synchronously: (decoded payload, FunctionError or None).
        A throttled invocation raises botocore's ClientError `TooManyRequestsException` (429),
        at once: this client does not retry."""
        response = self.cloud.client("lambda", retries=False).invoke(
            FunctionName=self.function_name(function_prefix), Payload=json.dumps(event)
        )
        return json.loads(response["Payload"].read() or "null"), response.get("FunctionError")

    def invoke_async(self, function_prefix: str, event: Any) -> int:
        """Invoke with InvocationType=Event: the status code (202); the event runs on a worker."""
        response = self.client("lambda").invoke(
            FunctionName=self.function_name(function_prefix), InvocationType="Event", Payload=json.dumps(event)
        )
        return int(response["StatusCode"])

    def inject_failure(self, function_prefix: str, **fault: Any) -> Any:
        """The next invocation(s) of one of the stack's functions fail: see LocalCloud.inject_failure."""
        return self.cloud.inject_failure(self.function_name(function_prefix), **fault)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        body: Any = None,
        signed_by: str | None = None,
    ) -> HttpResponse:
        """An HTTP request to one of the stack's front doors: its REST API (an `execute-api` URL,
        localcloud.rest_api) or a function URL (localcloud.function_urls). `signed_by=<principal
        ARN>` stands for a request SigV4-signed by that principal."""
        if ".execute-api." in (urlsplit(url).hostname or ""):
            return self.rest_api.request(method, url, headers=headers, body=body, signed_by=signed_by)
        return self.cloud.request(method, url, headers=headers, body=body, signed_by=signed_by)

    @functools.cached_property
    def rest_api(self) -> LocalRestApi:
        """The stack's REST API, run from its template (the stack must have exactly one)."""
        from localcloud.rest_api import LocalRestApi  # on first use: the mapping-template engine and JSON Schema

        return LocalRestApi(self)

    def messages(self, queue_prefix: str) -> list[dict[str, Any]]:
        """Receive and delete everything visible on a queue of the stack (JSON bodies parsed)."""
        return self.drain(self.queue_url(queue_prefix))

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive and delete everything visible on a queue: [{"body": ..., "attributes": ...}]."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while batch := sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        ).get("Messages", []):
            for message in batch:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = message["Body"]
                found.append({"body": body, "attributes": message.get("MessageAttributes", {})})
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def drain_sqs(self, function_prefix: str, *, pollers: int = 1) -> list[Any]:
        """Poll the function's SQS event source mapping until its queue is empty: the batches
        (`pollers` at once, within the mapping's MaximumConcurrency; see LocalCloud.drain_sqs)."""
        return self.cloud.drain_sqs(self.function_name(function_prefix), pollers=pollers)

    def hold_invocations(self, function_prefix: str, **options: Any) -> Any:
        """`with stack.hold_invocations(prefix) as held:` see LocalCloud.hold_invocations."""
        return self.cloud.hold_invocations(self.function_name(function_prefix), **options)

    def drain_stream(self, function_prefix: str) -> list[Any]:
        """Deliver the new records of the function's DynamoDB stream mapping: the batches."""
        return self.cloud.drain_stream(self.function_name(function_prefix))

    def restart_stream(self, function_prefix: str) -> None:
        """The function's stream mapping starts over as if just created: it begins polling at the
        next `drain_stream`, from its StartingPosition (LATEST skips what was written before)."""
        self.cloud.restart_stream(self.function_name(function_prefix))

    def settle(self, timeout: float = 30) -> list[Any]:
        """Wait until the cloud has no async invocation queued or running (see LocalCloud.settle)."""
        return self.cloud.settle(timeout)
