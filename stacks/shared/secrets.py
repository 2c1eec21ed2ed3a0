"""Secrets shared with a third party (a webhook secret, a signing secret), with the project's defaults.

    secret = shared_secret(scope, "GitHubWebhookSecret", description="...", shared_with="GitHub")
    secret.grant_read(function)     # the function reads it at run time (Powertools parameters)

The stack creates the secret with a generated value, so a deploy never needs one and no value is
ever in the template or in a function's environment (pass `secret.secret_arn`). The real value is
set afterwards with `aws secretsmanager put-secret-value` and entered at the provider.

Such a secret cannot be rotated by a Lambda rotation function: the other copy lives at the
provider (GitHub's webhook settings, Slack's app page), which no rotation function can update.
That is the one reason AwsSolutions-SMG4 (no automatic rotation) is acknowledged, on the secret
itself. Rotate by hand: put a new value, then enter it at the provider.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from . import settings

GENERATED_LENGTH = 48


def shared_secret(scope: Construct, id: str, *, description: str, shared_with: str) -> secretsmanager.Secret:
    """A secret string with a generated placeholder value, removed on destroy unless data is kept."""
    secret = secretsmanager.Secret(
        scope,
        id,
        description=description,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=GENERATED_LENGTH, exclude_punctuation=True
        ),
        removal_policy=settings.removal_policy(scope),
    )
    Validations.of(secret).acknowledge(
        Acknowledgment(
            id="AwsSolutions::AwsSolutions-SMG4",
            reason=f"The value is shared with {shared_with}, which holds the other copy; a rotation function "
            "cannot update it there. Rotated by hand: put-secret-value, then enter the value at the provider.",
        )
    )
    return secret
