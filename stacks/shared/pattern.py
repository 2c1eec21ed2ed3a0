"""PatternConstruct: what every pattern of the library accepts, whatever else it does.

Each pattern (`ApiSync`, `Webhook`, ...) is a `PatternConstruct`: it goes into any stack, as many
times as wanted, and its stack in this app (`ApiSyncStack`, ...) only holds one and adds outputs.
Besides its own props, every pattern accepts these, for everything it creates:

- `removal_policy`: `RemovalPolicy.DESTROY` (a sandbox's `cdk destroy` leaves nothing behind) or
  `RemovalPolicy.RETAIN` (its queues, tables, buckets, secrets and logs are kept). Unset, the
  app-wide context value `keep_data` decides (settings.py), and DESTROY without it.
- `existing_alarm_topic`: an SNS topic of yours that every alarm of the pattern notifies, in place of
  the stack's own alarm topic (monitoring.py).
- `function_props`, `queue_props`, `table_props`, `api_props`: keyword arguments merged over the
  library's and the pattern's defaults for every Lambda function (`lambda_.Function` props), work
  queue (`sqs.Queue`; not dead-letter queues), table (`dynamodb.TableV2`) and REST API
  (`apigw.RestApi`) the pattern creates; yours win (props.py, `consolidate_props`). A function's
  `environment` is merged key by key.
- `code_directory`: where the Lambda code is, when not in `lambdas/` beside the library (code.py).

An unknown or misspelt prop is a TypeError that names the pattern and lists what it accepts.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_sns as sns
from constructs import Construct, IConstruct

from . import code, settings

COMMON_PROPS = (
    "removal_policy",
    "existing_alarm_topic",
    "function_props",
    "queue_props",
    "table_props",
    "api_props",
    "code_directory",
)
# The id under which a pattern's own stack holds it. CDK leaves a construct named "Default" out of
# the logical ids of everything inside it, so each pattern's resources keep the logical ids they
# had when the pattern was a stack of its own, and a deployed stack updates in place.
ID_IN_ITS_OWN_STACK = "Default"
STACK_PROPS = tuple(
    name for name in inspect.signature(Stack.__init__).parameters if name not in ("self", "scope", "id")
)


class PatternConstruct(Construct):
    """The base of every pattern construct: the common props above, checked."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        removal_policy: RemovalPolicy | None = None,
        existing_alarm_topic: sns.ITopic | None = None,
        function_props: Mapping[str, Any] | None = None,
        queue_props: Mapping[str, Any] | None = None,
        table_props: Mapping[str, Any] | None = None,
        api_props: Mapping[str, Any] | None = None,
        code_directory: str | Path | None = None,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(unknown_props_message(type(self), unknown))
        super().__init__(scope, id)
        # Context set here is read by everything this construct holds (settings.keep_data,
        # code.code_directory); it must be set before the first child is added.
        if removal_policy is not None:
            if removal_policy not in (RemovalPolicy.DESTROY, RemovalPolicy.RETAIN):
                raise ValueError(
                    f"{type(self).__name__} {id}: removal_policy must be RemovalPolicy.DESTROY or RemovalPolicy.RETAIN"
                )
            self.node.set_context(settings.KEEP_DATA_CONTEXT, removal_policy == RemovalPolicy.RETAIN)
        if code_directory is not None:
            self.node.set_context(code.CODE_DIRECTORY_CONTEXT, str(Path(code_directory).resolve()))
        self.existing_alarm_topic = existing_alarm_topic
        self.function_props = dict(function_props or {})
        self.queue_props = dict(queue_props or {})
        self.table_props = dict(table_props or {})
        self.api_props = dict(api_props or {})

    @staticmethod
    def of(scope: Construct) -> PatternConstruct | None:
        """The innermost pattern that holds `scope` (or is it), if any."""
        for ancestor in reversed(scope.node.scopes):
            if isinstance(ancestor, PatternConstruct):
                return ancestor
        return None


def accepted_props(cls: type) -> list[str]:
    """Every keyword a pattern construct accepts: its own and the common ones."""
    own = [
        name
        for name, parameter in inspect.signature(cls.__init__).parameters.items()  # type: ignore[misc]  # a class's __init__, not an instance's
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    return sorted({*own, *COMMON_PROPS})


def unknown_props_message(cls: type, unknown: Mapping[str, Any]) -> str:
    accepted = accepted_props(cls)
    problems = []
    for name in unknown:
        close = difflib.get_close_matches(name, accepted, n=1)
        problems.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return f"{cls.__name__} has no prop {', '.join(problems)}. It accepts: {', '.join(accepted)}"


def overrides_for(scope: Construct, kind: str) -> dict[str, Any]:
    """The caller's `<kind>_props` of the pattern holding `scope` ({} outside a pattern)."""
    owner = PatternConstruct.of(scope)
    return dict(getattr(owner, f"{kind}_props")) if owner is not None else {}


def split_stack_props(props: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the `Stack` keyword arguments in `props`, the rest: the pattern's props), for a pattern's own stack."""
    stack_props = {key: value for key, value in props.items() if key in STACK_PROPS}
    return stack_props, {key: value for key, value in props.items() if key not in STACK_PROPS}


def parent(construct: IConstruct) -> Construct:
    """The scope `construct` was created in: where its siblings (alarms, policies) go."""
    scope = construct.node.scope
    if scope is None:
        raise ValueError(f"{construct.node.id} is the root of its tree: it has no parent")
    return cast(Construct, scope)


def path_in_stack(construct: IConstruct) -> list[str]:
    """The construct's path inside its stack, without `Default` (the id CDK leaves out of logical ids).

    `["WebhookFunction"]` in this app's Webhook stack; `["GitHubHooks", "WebhookFunction"]` for a
    Webhook a user adds to their stack as `GitHubHooks`. Names derived from it are unique in the
    stack, and unchanged for a pattern in its own stack.
    """
    stack_depth = len(Stack.of(construct).node.scopes)
    return [c.node.id for c in construct.node.scopes[stack_depth:] if c.node.id != ID_IN_ITS_OWN_STACK]


def label(construct: IConstruct) -> str:
    """`path_in_stack` joined with `/`: how a dashboard or alarm names a construct."""
    return "/".join(path_in_stack(construct))
