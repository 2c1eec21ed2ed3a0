"""Functions run under their own execution role, and moto checks what that role allows.

In AWS a function's code calls other services with the credentials of its execution role (the
`Role` of its `AWS::Lambda::Function`), so a grant missing from the stack fails the call. Here:

- **Credentials.** The first time a function runs, `RoleCredentials.for_function` assumes its role
  through moto's STS (session name: the function's name, as Lambda does) and keeps the keys for
  that function; the runtime puts them in the function's own environment (`AWS_ACCESS_KEY_ID`,
  `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) before its modules are first imported, and gives
  the function its own boto3 default session, so module-level `boto3.client(...)` calls resolve
  the function's credentials, not the test process's.
- **Enforcement only for function credentials.** moto has one process-wide switch
  (`settings.INITIAL_NO_AUTH_ACTION_COUNT`) that would check every request, the test's own
  included (its `testing` key has no IAM identity: InvalidClientTokenId). LocalCloud leaves that
  switch alone and wraps `ActionAuthenticatorMixin._authenticate_and_authorize_action`: a request
  signed with a key LocalCloud issued to a function goes through moto's own `IAMRequest` /
  `S3IAMRequest` (signature check, then the role's inline and attached identity policies); every
  other request (the test process, moto's internals, Step Functions tasks) is moto's default.
- **The resource.** moto names the resource only for SQS (the queue ARN), S3 (bucket or
  bucket/key ARN), IAM and STS; every other service is checked against `*`, which no
  resource-scoped grant matches. `RESOURCES` adds the resource from the request for DynamoDB
  (each table named by the request, or the stream for DynamoDB Streams calls), SNS, Lambda and
  Step Functions. For any other service the
  check is by action only: the call is allowed if an `Allow` statement of the role names the
  action, whatever its resource (`allowed_on_some_resource`).

- **S3's answer for a missing object.** AWS answers `GetObject`/`HeadObject` of a key that does
  not exist with 404 `NoSuchKey` only when the caller may `s3:ListBucket` on the bucket, and with
  403 `AccessDenied` when it may not (S3 API Reference, GetObject, "Permissions"); moto always
  answers 404. For a function's request LocalCloud checks `s3:ListBucket` on the bucket's ARN
  when the key is missing (or its latest version is a delete marker) and denies without it
  (`_missing_object`).

What moto's policy evaluation does not do (see moto/iam/access_control.py): condition keys other
than the request's own parameters (so an `s3:prefix` condition on `s3:ListBucket` is not
evaluated), resource-based policies (bucket, queue, key policies), permission boundaries, session
policies, SCPs and KMS key policies.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from moto.awslambda.models import LambdaFunction

    from localcloud.cloud import LocalCloud


class RoleCredentials:
    """Credentials of each function's execution role, assumed once per function."""

    def __init__(self, cloud: LocalCloud) -> None:
        self.cloud = cloud
        self.by_function: dict[str, dict[str, str]] = {}  # function ARN -> its environment variables
        self.access_keys: set[str] = set()  # every key issued to a function: the ones moto checks
        self._lock = threading.Lock()

    def for_function(self, function: LambdaFunction) -> dict[str, str]:
        with self._lock:
            if function.function_arn not in self.by_function:
                credentials = self.cloud.client("sts").assume_role(
                    RoleArn=function.role, RoleSessionName=function.function_name[:64]
                )["Credentials"]
                self.access_keys.add(credentials["AccessKeyId"])
                self.by_function[function.function_arn] = {
                    "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
                    "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
                    "AWS_SESSION_TOKEN": credentials["SessionToken"],
                }
            return self.by_function[function.function_arn]


# --- the resource a request acts on, where moto says "*" -------------------------------------------


def _arn(response: Any, service: str, resource: str) -> str:
    from moto.utilities.utils import get_partition

    return f"arn:{get_partition(response.region)}:{service}:{response.region}:{response.current_account}:{resource}"


def _dynamodb(response: Any) -> list[str]:
    params = getattr(response, "params", None) or {}
    tables: list[str] = []
    if "TableName" in params:
        tables.append(params["TableName"])
    tables += list(params.get("RequestItems") or {})  # BatchGetItem, BatchWriteItem
    for item in params.get("TransactItems") or []:  # TransactGetItems, TransactWriteItems
        tables += [
            operation["TableName"]
            for operation in item.values()
            if isinstance(operation, dict) and "TableName" in operation
        ]
    stream, iterator = response._get_param("StreamArn"), response._get_param("ShardIterator")
    if stream:  # DynamoDB Streams: DescribeStream, GetShardIterator
        tables.append(stream)
    if iterator:  # GetRecords: IAM checks the stream; moto's iterator begins with its ARN
        tables.append(iterator.partition("|")[0])
    return [
        name if name.startswith("arn:") else _arn(response, "dynamodb", f"table/{name}")
        for name in dict.fromkeys(tables)
    ]


def _sns(response: Any) -> list[str]:
    arn = response._get_param("TopicArn") or response._get_param("TargetArn")
    return [arn] if arn else []


def _lambda(response: Any) -> list[str]:
    from urllib.parse import unquote

    parts = response.path.split("/")
    if len(parts) > 3 and parts[2] == "functions":
        name = unquote(parts[3]).split(":")
        if name[0] == "arn":
            return [":".join(name[:7])]
        return [_arn(response, "lambda", f"function:{name[0]}")]
    return []


def _stepfunctions(response: Any) -> list[str]:
    arn = response._get_param("stateMachineArn")
    if arn:
        return [arn]
    execution = response._get_param("executionArn")
    if execution:  # arn:aws:states:region:account:execution:machine:name -> the execution itself
        return [execution]
    return []


# moto names the action after the API operation; where IAM's action is named differently, IAM's name.
ACTIONS = {"lambda:Invoke": "lambda:InvokeFunction"}

# IAM has no TransactWriteItems or TransactGetItems action: each item of a transaction needs its
# own action on its own table (DynamoDB developer guide, "Using IAM with DynamoDB transactions").
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


def _transact_items(response: Any) -> list[tuple[str, str]]:
    """(IAM action, table ARN) of every item of a TransactWriteItems/TransactGetItems request."""
    params = getattr(response, "params", None) or {}
    checks: list[tuple[str, str]] = []
    for item in params.get("TransactItems") or []:
        for kind, operation in item.items():
            name = operation["TableName"]
            checks.append(
                (
                    TRANSACT_ITEM_ACTIONS[kind],
                    name if name.startswith("arn:") else _arn(response, "dynamodb", f"table/{name}"),
                )
            )
    return list(dict.fromkeys(checks))


RESOURCES: dict[str, Callable[[Any], list[str]]] = {
    "dynamodb": _dynamodb,
    "sns": _sns,
    "lambda": _lambda,
    "states": _stepfunctions,
}


def allowed_on_some_resource(policies: list[Any], action: str) -> bool:
    """Whether an Allow statement of these identity policies names `action` (any resource)."""
    from moto.iam.access_control import IAMPolicy, IAMPolicyStatement

    for policy in policies:
        statements = IAMPolicy(policy)._policy_json["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            matcher = IAMPolicyStatement(statement)
            if "NotAction" in statement:
                concerned = not matcher._check_element_matches("NotAction", action)
            else:
                concerned = matcher._check_element_matches("Action", action)
            if concerned and statement.get("Effect") == "Allow":
                return True
    return False


def _bucket_exists(response: Any, resource: str) -> bool:
    from moto.s3.models import s3_backends
    from moto.utilities.utils import get_partition

    bucket = resource.partition(":::")[2].partition("/")[0]
    return (
        bucket in ("", "*") or bucket in s3_backends[response.current_account][get_partition(response.region)].buckets
    )


def _missing_object(response: Any, resource: str) -> bool:
    """Whether `arn:aws:s3:::bucket/key` names no object: no such key, or its latest version is a
    delete marker (a `versionId` request is left to moto)."""
    from moto.s3.models import FakeKey, s3_backends
    from moto.utilities.utils import get_partition

    bucket_name, _, key_name = resource.partition(":::")[2].partition("/")
    if not key_name or "versionId" in (getattr(response, "querystring", None) or {}):
        return False
    bucket = s3_backends[response.current_account][get_partition(response.region)].buckets.get(bucket_name)
    return bucket is not None and not isinstance(bucket.keys.get(key_name), FakeKey)


def access_key_of(headers: Any) -> str | None:
    authorization = headers.get("Authorization") or ""
    if "Credential=" not in authorization:
        return None
    return authorization.partition("Credential=")[2].partition("/")[0]


def authenticate_and_authorize(cloud: LocalCloud, original: Callable[..., None]) -> Callable[..., None]:
    """A replacement for `ActionAuthenticatorMixin._authenticate_and_authorize_action`."""

    def check(response: Any, iam_request_cls: type, resource: str = "*") -> None:
        if access_key_of(response.headers) not in cloud.role_credentials.access_keys:
            return original(response, iam_request_cls, resource)  # the test process: moto's default
        from urllib.parse import urlparse

        from moto.iam.access_control import IAMRequest

        path = response.raw_path
        if urlparse(response.uri).query:
            path += "?" + urlparse(response.uri).query
        request = iam_request_cls(
            account_id=response.current_account,
            method=response.method,
            path=path,
            data=response.data,
            body=response.raw_body,
            headers=response.headers,
            action=response._get_action(),
        )
        request.check_signature()
        request._action = ACTIONS.get(request._action, request._action)
        if iam_request_cls is not IAMRequest and not _bucket_exists(response, resource):
            return  # S3 answers NoSuchBucket before evaluating any policy (even to anonymous callers)
        if resource != "*" or iam_request_cls is not IAMRequest:
            request.check_action_permitted(resource)
            if (
                iam_request_cls is not IAMRequest
                and request._action == "s3:GetObject"
                and _missing_object(response, resource)
            ):
                # AWS: 404 NoSuchKey only to a caller who may list the bucket, 403 AccessDenied otherwise.
                request._action = "s3:ListBucket"
                request.check_action_permitted(resource.partition("/")[0])
            return
        if request._action in ("dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"):
            for request._action, table in _transact_items(response):
                request.check_action_permitted(table)
            return
        resolve = RESOURCES.get(request._service)
        resources = resolve(response) if resolve else []
        for named in resources:
            request.check_action_permitted(named)
        if not resources and request._action != "sts:GetCallerIdentity":
            if not allowed_on_some_resource(request._access_key.collect_policies(), request._action):
                request._raise_access_denied()

    return check
