"""The checks every synth runs.

- CDK's own CloudFormation validation, which every `app.synth()` runs with its default rules. Its
  findings fail the synth because cdk.json sets `@aws-cdk/core:validateAgainstDefaultRules`
  (without the flag they are warnings). As in any CDK app, `CDK_VALIDATION=false` in the
  environment turns it off.
- The cdk-nag 3 AWS Solutions and Serverless packs, added here.

A finding that is not acknowledged fails the synth. Acknowledge one with
`Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))` on the narrowest
construct, with a reason a reviewer would accept.

CDK's validation is left to CDK rather than added here as a `CloudFormationValidatePlugin`: its
engine takes seconds of CPU to build, and CDK builds one per process and shares it with every app.
A plugin of our own replaces CDK's in the apps that register it, so a process that also
synthesizes other apps (a test worker) would build two.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack, Stage, Validations
from constructs import IConstruct


def add_checks(stage: Stage) -> None:
    """Run both nag packs on every template in `stage` (an App) when it is synthesized.

    cdk-nag is imported here only: the patterns' acknowledgments use CDK's own `Validations`, so an
    app that never adds the checks does not need cdk-nag installed."""
    from cdk_nag import AwsSolutionsChecks, ServerlessChecks

    Validations.of(stage).add_plugins(AwsSolutionsChecks(stage), ServerlessChecks(stage))


def as_nag_renders(scope: IConstruct, value: str) -> str:
    """`value` (a string that may hold CDK tokens) as cdk-nag writes it in a finding's id.

    cdk-nag names the resource of a finding such as `AwsSolutions-IAM5[Resource::...]` from the
    template, with each reference in angle brackets: `{"Ref": "AWS::Partition"}` is
    `<AWS::Partition>`, `{"Fn::GetAtt": ["Bucket83908E77", "Arn"]}` is `<Bucket83908E77.Arn>`. An
    acknowledgment names the finding the same way, so a construct can acknowledge a finding about
    a resource it was given (a user's bucket) without knowing how that resource is written.
    """
    return _render(Stack.of(scope).resolve(value))


def _render(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and len(node) == 1:
        ((function, argument),) = node.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{'.'.join(argument)}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {node!r} as cdk-nag does")
