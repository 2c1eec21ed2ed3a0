"""S3 buckets with the project's defaults: encrypted, private, TLS-only, and emptied and removed
on `cdk destroy` (unless `keep_data` is set).

- `secure_bucket`: a bucket with those defaults; any `s3.Bucket` prop overrides them.
- `NotifyingBucket`: a secure bucket that invokes a function when objects are created, named
  from the stack, account and region so that everything pointing at it (the invoke permission,
  the function's object access) is written from its name, not from the bucket resource. The
  bucket depends on the function (its notification target), so a reference the other way would
  be a circular dependency; the name breaks the cycle without the custom resource CDK's
  `add_event_notification` deploys. The name carries a hash of the whole stack name, so two
  stacks whose names share a long prefix never get the same bucket name (see `bucket_name_prefix`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from typing import Any, cast

from aws_cdk import Acknowledgment, Aws, Fn, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from constructs import Construct

from . import settings
from .checks import as_nag_renders
from .pattern import parent, path_in_stack
from .props import consolidate_props

# S3 bucket names are 3-63 characters. A derived name ends in -<account id>-<region>: 12 digits,
# and a region name of at most 14 characters (ap-southeast-2, us-gov-west-1, cn-northwest-1).
MAX_BUCKET_NAME = 63
ACCOUNT_REGION_SUFFIX = len("-123456789012-ap-southeast-2")
STACK_HASH_LENGTH = 8
PURPOSE = re.compile(r"[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?")


def bucket_name_prefix(stack_name: str, purpose: str, owner: Sequence[str] = ()) -> str:
    """`<stack name, shortened>-<hash>-<purpose>`, the part of a derived bucket name before
    `-<account>-<region>`.

    The stack name is shortened to fit S3's 63 characters; the hash (8 hex digits of SHA-256 over
    the exact stack name, and the path in the stack of the construct that owns the bucket, if any)
    is what keeps two stacks apart when their names only differ after the shortened part, such as
    `OrdersEventInvokeStagingEuropeWest` and `...EuropeEast`, and two patterns in one stack apart.
    A pattern in its own stack has no owner path (pattern.path_in_stack), so its name is the
    stack's alone.
    """
    if not PURPOSE.fullmatch(purpose):
        raise ValueError(f"purpose {purpose!r}: 1-15 lower-case letters, digits or inner hyphens")
    digest = hashlib.sha256("/".join([stack_name, *owner]).encode()).hexdigest()[:STACK_HASH_LENGTH]
    room = MAX_BUCKET_NAME - ACCOUNT_REGION_SUFFIX - len(f"-{digest}-{purpose}")
    readable = stack_name.lower()[:room].rstrip("-")
    return f"{readable}-{digest}-{purpose}"


def default_bucket_props(scope: Construct) -> dict[str, Any]:
    return {
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        "removal_policy": settings.removal_policy(scope),
        "auto_delete_objects": not settings.keep_data(scope),
    }


def secure_bucket(scope: Construct, id: str, **overrides: Any) -> s3.Bucket:
    return s3.Bucket(scope, id, **consolidate_props(default_bucket_props(scope), overrides))


class NotifyingBucket(s3.Bucket):
    """A secure bucket named `<stack name>-<stack hash>-<purpose>-<account>-<region>` that can
    invoke functions (`bucket_name_prefix`: at most 63 characters, unique per stack name).

    - `invoke_on_object_created(function, prefix=..., suffix=None)`: S3 invokes `function`
      asynchronously for every object created under `prefix` (and ending in `suffix`, if given):
      an L1 NotificationConfiguration plus the lambda:InvokeFunction permission for this bucket
      in this account.
    - `grant_object_access(function, read=[...], read_write=[...])`: object access under the given
      prefixes, plus s3:ListBucket on this bucket, so that reading a missing key answers 404
      NoSuchKey instead of 403 AccessDenied (see the method).
    """

    def __init__(self, scope: Construct, id: str, *, purpose: str, **overrides: Any) -> None:
        self.name_prefix = bucket_name_prefix(Stack.of(scope).stack_name, purpose, path_in_stack(scope))
        self.derived_name = Fn.join("-", [self.name_prefix, Aws.ACCOUNT_ID, Aws.REGION])
        super().__init__(
            scope, id, **consolidate_props(default_bucket_props(scope), {"bucket_name": self.derived_name, **overrides})
        )
        self._lambda_configurations: list[s3.CfnBucket.LambdaConfigurationProperty] = []

    def derived_arn(self, object_prefix: str | None = None) -> str:
        """The bucket's ARN, or with `object_prefix` the ARN pattern of the objects under it."""
        arn = Fn.join("", ["arn:", Aws.PARTITION, ":s3:::", self.derived_name])
        return arn if object_prefix is None else Fn.join("", [arn, "/", object_prefix, "*"])

    def invoke_on_object_created(
        self, function: lambda_.IFunction, *, prefix: str, suffix: str | None = None
    ) -> lambda_.CfnPermission:
        """S3 invokes `function` (asynchronously) for each object created under `prefix` (and, with
        `suffix`, whose key ends with it: S3 compares both case-sensitively)."""
        permission = lambda_.CfnPermission(
            parent(self),
            f"Allow{self.node.id}Invoke{function.node.id}",
            action="lambda:InvokeFunction",
            function_name=function.function_arn,
            principal="s3.amazonaws.com",
            source_account=Aws.ACCOUNT_ID,
            source_arn=self.derived_arn(),
        )
        self._lambda_configurations.append(
            s3.CfnBucket.LambdaConfigurationProperty(
                event="s3:ObjectCreated:*",
                function=function.function_arn,
                filter=s3.CfnBucket.NotificationFilterProperty(
                    s3_key=s3.CfnBucket.S3KeyFilterProperty(
                        rules=[
                            s3.CfnBucket.FilterRuleProperty(name="prefix", value=prefix),
                            *([s3.CfnBucket.FilterRuleProperty(name="suffix", value=suffix)] if suffix else []),
                        ]
                    )
                ),
            )
        )
        cfn_bucket = cast(s3.CfnBucket, self.node.default_child)
        cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
            lambda_configurations=self._lambda_configurations
        )
        cfn_bucket.add_resource_dependency(permission)
        return permission

    def grant_object_access(
        self,
        function: lambda_.IFunction,
        *,
        read: Sequence[str] = (),
        read_write: Sequence[str] = (),
        delete: Sequence[str] = (),
    ) -> iam.Policy:
        """`function` may read objects under `read` prefixes, read and write under `read_write`,
        delete under `delete`, and list this bucket.

        s3:ListBucket is what makes S3 answer a GetObject on a missing key with 404 NoSuchKey; a
        caller without it gets 403 AccessDenied for a missing key, indistinguishable from a real
        permission error (S3 API reference, GetObject, "Permissions"). It is granted on this
        bucket only and without an `s3:prefix` condition: AWS documents the 404 for the
        permission on the bucket, not for a prefix-conditioned one.
        """
        return grant_object_access(
            self,
            function,
            bucket_arn=self.derived_arn(),
            objects_arn=self.derived_arn,
            read=read,
            read_write=read_write,
            delete=delete,
            whose="this stack's own bucket",
        )


def grant_object_access(
    bucket: Construct,
    function: lambda_.IFunction,
    *,
    bucket_arn: str,
    objects_arn: Callable[[str], str],
    read: Sequence[str],
    read_write: Sequence[str],
    delete: Sequence[str],
    whose: str,
) -> iam.Policy:
    """The policy `NotifyingBucket.grant_object_access` and `ExistingBucket.grant_object_access`
    attach: s3:ListBucket on the bucket, object actions on the prefixes, each prefix's wildcard
    acknowledged (keys are chosen by uploaders)."""
    statements = [iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn])]
    if read:
        statements.append(iam.PolicyStatement(actions=["s3:GetObject"], resources=[objects_arn(p) for p in read]))
    if read_write:
        statements.append(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject"], resources=[objects_arn(p) for p in read_write]
            )
        )
    if delete:
        statements.append(iam.PolicyStatement(actions=["s3:DeleteObject"], resources=[objects_arn(p) for p in delete]))
    if function.role is None:
        raise ValueError(f"{function.node.id} has no role to grant {bucket.node.id}'s objects to")
    policy = iam.Policy(
        parent(bucket), f"{function.node.id}{bucket.node.id}Access", roles=[function.role], statements=statements
    )
    for prefix in dict.fromkeys((*read, *read_write, *delete)):
        Validations.of(policy).acknowledge(
            Acknowledgment(
                id=f"AwsSolutions::AwsSolutions-IAM5[Resource::{as_nag_renders(policy, objects_arn(prefix))}]",
                reason=f"Object-level access to the {prefix} prefix of {whose}; object keys "
                "are chosen by uploaders, so they cannot be listed in advance.",
            )
        )
    return policy


class ExistingBucket(Construct):
    """A bucket the caller already has (a pattern's `existing_bucket`), with NotifyingBucket's two
    methods, so a pattern uses either the same way.

    - `invoke_on_object_created`: CDK's `add_event_notification`, which for a bucket it does not
      create deploys its custom resource (Custom::S3BucketNotifications) to add the notification
      next to the bucket's others, and the invoke permission.
    - `grant_object_access`: as NotifyingBucket's, on the bucket's own ARN, plus use of its KMS
      key when it has one the caller told CDK about.
    """

    def __init__(self, scope: Construct, id: str, bucket: s3.IBucket) -> None:
        super().__init__(scope, id)
        self.bucket = bucket
        self.bucket_name = bucket.bucket_name
        self.derived_name = bucket.bucket_name  # what the functions are told, as for a NotifyingBucket

    def invoke_on_object_created(self, function: lambda_.IFunction, *, prefix: str, suffix: str | None = None) -> None:
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            s3n.LambdaDestination(function),
            s3.NotificationKeyFilter(prefix=prefix, suffix=suffix),
        )
        _acknowledge_notifications_handler(Stack.of(self))

    def grant_object_access(
        self,
        function: lambda_.IFunction,
        *,
        read: Sequence[str] = (),
        read_write: Sequence[str] = (),
        delete: Sequence[str] = (),
    ) -> iam.Policy:
        key = self.bucket.encryption_key
        if key is not None:
            (key.grant_encrypt_decrypt if read_write else key.grant_decrypt)(function)
        return grant_object_access(
            self,
            function,
            bucket_arn=self.bucket.bucket_arn,
            objects_arn=lambda prefix: self.bucket.arn_for_objects(f"{prefix}*"),
            read=read,
            read_write=read_write,
            delete=delete,
            whose="the bucket given as existing_bucket",
        )


# The singleton function CDK deploys to put notifications on a bucket it did not create.
NOTIFICATIONS_HANDLER = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"
NOTIFICATIONS_HANDLER_FINDINGS = (
    "AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
)


def _acknowledge_notifications_handler(stack: Stack) -> None:
    """CDK's notifications handler, which no prop reaches, as the checks see it: acknowledged on it alone."""
    handler = stack.node.try_find_child(NOTIFICATIONS_HANDLER)
    if handler is None:
        return
    reason = (
        "CDK's own handler for Custom::S3BucketNotifications, which puts the pattern's notification on a "
        "bucket it did not create; CDK builds its role with the managed basic execution policy, and no "
        "prop of the library reaches it. It runs only during deploys."
    )
    for finding in NOTIFICATIONS_HANDLER_FINDINGS:
        Validations.of(handler).acknowledge(Acknowledgment(id=finding, reason=reason))
