"""The checks every synth runs.

Three policy validation plugins: CDK's own CloudFormation validation (its default rules fail the
synth because cdk.json sets `@aws-cdk/core:validateAgainstDefaultRules`), and the cdk-nag 3
AWS Solutions and Serverless packs. A finding that is not acknowledged fails the synth. Acknowledge one with
`Validations.of(construct).acknowledge(Acknowledgment(id=..., reason=...))` on the narrowest
construct, with a reason a reviewer would accept.
"""

from __future__ import annotations

import functools

from aws_cdk import CloudFormationValidatePlugin, Stage, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks


def add_checks(stage: Stage) -> None:
    """Validate every template in `stage` (an App) when it is synthesized."""
    Validations.of(stage).add_plugins(
        _cloudformation_validation(),
        AwsSolutionsChecks(stage),
        ServerlessChecks(stage),
    )


@functools.cache
def _cloudformation_validation() -> CloudFormationValidatePlugin:
    # Building the plugin compiles its rules (seconds of CPU); it keeps no state between
    # validations, so every app synthesized in one process (tests build several) shares one.
    return CloudFormationValidatePlugin(include_default_rules=True)
