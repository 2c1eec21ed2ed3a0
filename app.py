#!/usr/bin/env python3
"""The CDK app: one stack per pattern, the account-wide setup they share, and the checks every synth runs."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk

from stacks.account_setup import AccountSetupStack
from stacks.api_sync import ApiSyncStack
from stacks.event_invoke import EventInvokeStack
from stacks.express_workflow import ExpressWorkflowStack
from stacks.fan_out import FanOutStack
from stacks.queue_redrive import QueueRedriveStack
from stacks.shared import settings
from stacks.shared.checks import add_checks
from stacks.standard_workflow import StandardWorkflowStack
from stacks.stream_job import StreamJobStack
from stacks.webhook import WebhookStack

# Stack id -> stack class. Each stack deploys and destroys on its own: `npx cdk deploy ApiSync`.
PATTERNS = {
    "ApiSync": ApiSyncStack,
    "EventInvoke": EventInvokeStack,
    "QueueRedrive": QueueRedriveStack,
    "ExpressWorkflow": ExpressWorkflowStack,
    "StandardWorkflow": StandardWorkflowStack,
    "FanOut": FanOutStack,
    "StreamJob": StreamJobStack,
    "Webhook": WebhookStack,
}

# What every API stack needs once per account and region, deployed first and on its own:
# `make deploy STACK=AccountSetup` (docs/deploy.md, AccountSetup). `-c account_setup=false` leaves it out.
ACCOUNT_STACKS = {
    "AccountSetup": AccountSetupStack,
}


def app_stacks(app: cdk.App) -> dict[str, type[cdk.Stack]]:
    """Stack id -> class of every stack the app builds, given its context."""
    return {**(ACCOUNT_STACKS if settings.account_setup(app) else {}), **PATTERNS}


def build_app(**app_kwargs: Any) -> cdk.App:
    app = cdk.App(**app_kwargs)
    for stack_id, stack_class in app_stacks(app).items():
        stack_class(app, stack_id)
    add_checks(app)
    return app


if __name__ == "__main__":
    build_app().synth()
