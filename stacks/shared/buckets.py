"""S3 buckets with the project's defaults: encrypted, private, TLS-only, and emptied and removed
on `cdk destroy` (unless `keep_data` is set)."""

from __future__ import annotations

from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.shared import settings


def secure_bucket(scope: Construct, id: str, **kwargs: object) -> s3.Bucket:
    return s3.Bucket(
        scope,
        id,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        removal_policy=settings.removal_policy(scope),
        auto_delete_objects=not settings.keep_data(scope),
        **kwargs,  # type: ignore[arg-type]
    )
