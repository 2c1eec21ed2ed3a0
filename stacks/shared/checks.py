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

from aws_cdk import Stage, Validations
from cdk_nag import AwsSolutionsChecks, ServerlessChecks


def add_checks(stage: Stage) -> None:
    """Run both nag packs on every template in `stage` (an App) when it is synthesized."""
    Validations.of(stage).add_plugins(AwsSolutionsChecks(stage), ServerlessChecks(stage))
