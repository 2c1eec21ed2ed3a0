"""The checks every synth runs.

Three policy validation plugins: CDK's own CloudFormation validation (its default rules fail the
synth because cdk.json sets `@aws-cdk/core:validateAgainstDefaultRules`), and the cdk-nag 3
AWS Solutions and Serverless packs. A finding that is not acknowledged fails the synth. Acknowledge one with
`Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))` on the narrowest
construct, with a reason a reviewer would accept.
"""

from __future__ import annotations

from aws_cdk import CloudFormationValidatePlugin, Stage, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks


def add_checks(stage: Stage) -> None:
    """Validate every template in `stage` (an App) when it is synthesized."""
    Validations.of(stage).add_plugins(
        CloudFormationValidatePlugin(include_default_rules=True),
        AwsSolutionsChecks(stage),
        ServerlessChecks(stage),
    )
