"""Finding a stack's resources by type and logical id prefix: one way, for local and real stacks,
the scripts (`scripts/cost.py`) and the template tests alike. Imports nothing but the standard library.

CDK logical ids are a construct path plus a hash (`QuotesFunction1A2B3C4D`), so tests name a
resource by the prefix they wrote in the stack and its type. `StackResources` answers from the
synthesized template and the physical ids of a deployment: `Deployment` (moto) builds one after
`create_stack`, and `StackResources.from_cloudformation` builds one for a stack deployed in a
real account (the smoke tests), from the same template.
"""

from __future__ import annotations

from typing import Any


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """Logical id -> resource, for every resource of `resource_type` in a template."""
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def find_resource(template: dict[str, Any], resource_type: str, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the one resource of `resource_type` whose logical id starts with
    `prefix`; LookupError when none or several do."""
    matches = [(lid, r) for lid, r in resources_of_type(template, resource_type).items() if lid.startswith(prefix)]
    if len(matches) != 1:
        raise LookupError(
            f"{len(matches)} {resource_type} resources start with {prefix!r}: {[lid for lid, _ in matches]}"
        )
    return matches[0]


def find_logical_id(template: dict[str, Any], resource_type: str, prefix: str = "") -> str:
    """The logical id of the one resource of `resource_type` whose logical id starts with `prefix`."""
    return find_resource(template, resource_type, prefix)[0]


class StackResources:
    """A deployed stack's template, physical ids and outputs, looked up by logical id prefix."""

    def __init__(
        self, template: dict[str, Any], physical_ids: dict[str, str], outputs: dict[str, str] | None = None
    ) -> None:
        self.template = template
        self.physical_ids = physical_ids
        self.outputs = outputs or {}

    @classmethod
    def from_cloudformation(cls, cloudformation: Any, stack_name: str, template: dict[str, Any]) -> StackResources:
        """Read physical ids and outputs of `stack_name` with a CloudFormation client."""
        paginator = cloudformation.get_paginator("list_stack_resources")
        physical_ids = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "")
            for page in paginator.paginate(StackName=stack_name)
            for r in page["StackResourceSummaries"]
        }
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o.get("OutputValue") for o in stack.get("Outputs", [])}
        return cls(template, physical_ids, outputs)

    def resources_of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return resources_of_type(self.template, resource_type)

    def logical_id(self, resource_type: str, prefix: str = "") -> str:
        return find_logical_id(self.template, resource_type, prefix)

    def physical_id(self, resource_type: str, prefix: str = "") -> str:
        """The physical id (name, URL or ARN, as CloudFormation's Ref gives it) of one resource."""
        return self.physical_ids[self.logical_id(resource_type, prefix)]

    def properties(self, resource_type: str, prefix: str = "") -> dict[str, Any]:
        """The template's Properties of one resource."""
        properties: dict[str, Any] = self.template["Resources"][self.logical_id(resource_type, prefix)].get(
            "Properties", {}
        )
        return properties

    def function_name(self, prefix: str = "") -> str:
        return self.physical_id("AWS::Lambda::Function", prefix)

    def queue_url(self, prefix: str = "") -> str:
        return self.physical_id("AWS::SQS::Queue", prefix)

    def table_name(self, prefix: str = "") -> str:
        return self.physical_id("AWS::DynamoDB::Table", prefix)

    def bucket_name(self, prefix: str = "") -> str:
        return self.physical_id("AWS::S3::Bucket", prefix)

    def state_machine_arn(self, prefix: str = "") -> str:
        return self.physical_id("AWS::StepFunctions::StateMachine", prefix)
