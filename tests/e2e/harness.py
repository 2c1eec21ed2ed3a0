"""Deploy a stack of the session's cloud assembly into moto's CloudFormation, unchanged.

`Deployment(assembly, "ApiSync").deploy()` does what `cdk deploy` needs from an account: it
prepares what `cdk bootstrap` would have (the asset bucket holding each function's code zip,
the bootstrap version parameter), points the template's public SSM parameters (the Powertools
layer) at local copies, creates the stack from the synthesized template, and waits for it.
Then it answers what a test needs: outputs, physical ids, ARNs, and invocations.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3

from tests.e2e import emulation, moto_patches

BOOTSTRAP_QUALIFIER = "hnb659fds"
FAKE_LAYER_ARN = "arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python314-arm64:1"


def zip_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(directory).as_posix())
    return buffer.getvalue()


class Deployment:
    """One stack of a cloud assembly, deployed into moto."""

    def __init__(self, assembly_dir: str | Path, stack_id: str, *, region: str = "us-east-1") -> None:
        self.assembly_dir = Path(assembly_dir)
        self.stack_id = stack_id
        self.region = region
        self.template: dict[str, Any] = json.loads((self.assembly_dir / f"{stack_id}.template.json").read_text())
        self.session = boto3.session.Session(region_name=region)
        self.account = self.client("sts").get_caller_identity()["Account"]
        self.physical_ids: dict[str, str] = {}
        self.outputs: dict[str, str] = {}

    def client(self, service: str) -> Any:
        return self.session.client(service)

    # --- deploying ---------------------------------------------------------------------------

    def deploy(self) -> Deployment:
        self._bootstrap()
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
        emulation.register(self)
        return self

    def _bootstrap(self) -> None:
        """What `cdk bootstrap` leaves in an account, the public Powertools layer parameter, and the
        assets `cdk deploy` uploads."""
        self.client("ssm").put_parameter(Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String", Overwrite=True)
        for parameter in self.template.get("Parameters", {}).values():
            default = parameter.get("Default", "")
            if parameter["Type"].startswith("AWS::SSM::Parameter::Value") and default.startswith("/aws/service/powertools/"):
                moto_patches.put_public_parameter(self.account, self.region, default, FAKE_LAYER_ARN.format(region=self.region))
        manifest = json.loads((self.assembly_dir / f"{self.stack_id}.assets.json").read_text())
        s3 = self.client("s3")
        for asset in manifest.get("files", {}).values():
            if asset["source"].get("packaging") != "zip":
                continue
            body = zip_directory(self.assembly_dir / asset["source"]["path"])
            for destination in asset["destinations"].values():
                bucket = destination["bucketName"].replace("${AWS::AccountId}", self.account).replace("${AWS::Region}", self.region)
                if bucket not in {b["Name"] for b in s3.list_buckets()["Buckets"]}:
                    s3.create_bucket(Bucket=bucket)
                s3.put_object(Bucket=bucket, Key=destination["objectKey"], Body=body)


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
            raise RuntimeError(f"{self.stack_id}: {stack['StackStatus']} {stack.get('StackStatusReason', '')}")
        return stack

    # --- reading the deployed stack ----------------------------------------------------------

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {lid: r for lid, r in self.template["Resources"].items() if r["Type"] == resource_type}

    def logical_id(self, resource_type: str, prefix: str = "") -> str:
        """The one resource of `resource_type` whose logical id starts with `prefix`."""
        (match,) = [lid for lid in self.resources_of_type(resource_type) if lid.startswith(prefix)]
        return match

    def function_name(self, prefix: str = "") -> str:
        return self.physical_ids[self.logical_id("AWS::Lambda::Function", prefix)]

    def queue_url(self, prefix: str) -> str:
        return self.physical_ids[self.logical_id("AWS::SQS::Queue", prefix)]

    def resolve(self, value: Any) -> Any:
        """The deployed value of a template expression: Ref and Fn::GetAtt ...Arn/StreamArn."""
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.physical_ids[value["Ref"]]
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.attribute(logical_id, attribute)
        raise ValueError(f"cannot resolve {value}")

    def attribute(self, logical_id: str, attribute: str) -> str:
        resource_type = self.template["Resources"][logical_id]["Type"]
        physical = self.physical_ids[logical_id]
        if resource_type == "AWS::SQS::Queue" and attribute == "Arn":
            return self.client("sqs").get_queue_attributes(QueueUrl=physical, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        if resource_type == "AWS::Lambda::Function" and attribute == "Arn":
            return self.client("lambda").get_function(FunctionName=physical)["Configuration"]["FunctionArn"]
        if resource_type == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return self.client("dynamodb").describe_table(TableName=physical)["Table"]["LatestStreamArn"]
        if resource_type == "AWS::DynamoDB::Table" and attribute == "Arn":
            return self.client("dynamodb").describe_table(TableName=physical)["Table"]["TableArn"]
        if resource_type == "AWS::Events::EventBus" and attribute == "Arn":
            return self.client("events").describe_event_bus(Name=physical)["Arn"]
        if resource_type == "AWS::SNS::Topic" and attribute == "TopicArn":
            return physical
        if resource_type == "AWS::StepFunctions::StateMachine" and attribute == "Arn":
            return physical
        raise ValueError(f"{resource_type}.{attribute} is not resolved by the harness yet")

    # --- driving it ---------------------------------------------------------------------------

    def invoke(self, function_prefix: str, event: Any) -> tuple[Any, str | None]:
        """Invoke a deployed function synchronously: (decoded payload, FunctionError or None)."""
        response = self.client("lambda").invoke(FunctionName=self.function_name(function_prefix), Payload=json.dumps(event))
        return json.loads(response["Payload"].read() or "null"), response.get("FunctionError")

    def messages(self, queue_prefix: str) -> list[dict[str, Any]]:
        """Receive and delete everything visible on a queue of the stack (JSON bodies parsed)."""
        return self.drain(self.queue_url(queue_prefix))

    def drain(self, queue_url: str) -> list[dict[str, Any]]:
        """Receive and delete everything visible on a queue: [{"body": ..., "attributes": ...}]."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", []):
            for message in batch:
                try:
                    body = json.loads(message["Body"])
                except ValueError:
                    body = message["Body"]
                found.append({"body": body, "attributes": message.get("MessageAttributes", {})})
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found

    def invoke_async(self, function_prefix: str, event: Any) -> int:
        response = self.client("lambda").invoke(
            FunctionName=self.function_name(function_prefix), InvocationType="Event", Payload=json.dumps(event)
        )
        return response["StatusCode"]
