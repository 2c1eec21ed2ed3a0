"""`AWS::SecretsManager::Secret` for moto's CloudFormation, which has no model for it.

Without one, moto skips the resource and a `Ref` to it (its ARN, in a function's environment or an
output) resolves to nothing usable. `SecretModel` creates the secret in moto's Secrets Manager as
CloudFormation does:
- `Name`, else `<logical id>-<random>` (CloudFormation names an unnamed secret after its logical id);
- `SecretString`, else a value generated from `GenerateSecretString` (`PasswordLength` (32),
  `ExcludeCharacters`, `ExcludePunctuation`, ...; with `SecretStringTemplate` and
  `GenerateStringKey` the generated value is put under that key of the template's JSON object);
- `Description`, `KmsKeyId`, `Tags`; `Ref` is the ARN, `Fn::GetAtt [X, Id]` too.

Not emulated: rotation schedules, resource policies, replica regions.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from moto.core.common_models import CloudFormationModel

# CloudFormation's GenerateSecretString property -> moto's get_random_password argument.
GENERATE_OPTIONS = {
    "ExcludeCharacters": ("exclude_characters", ""),
    "ExcludeNumbers": ("exclude_numbers", False),
    "ExcludePunctuation": ("exclude_punctuation", False),
    "ExcludeUppercase": ("exclude_uppercase", False),
    "ExcludeLowercase": ("exclude_lowercase", False),
    "IncludeSpace": ("include_space", False),
    "RequireEachIncludedType": ("require_each_included_type", True),
}
DEFAULT_PASSWORD_LENGTH = 32


def _backend(account_id: str, region_name: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[account_id][region_name]


def generated_value(backend: Any, spec: dict[str, Any]) -> str:
    """The secret string CloudFormation generates from a `GenerateSecretString` property."""
    options = {arg: spec.get(prop, default) for prop, (arg, default) in GENERATE_OPTIONS.items()}
    password = json.loads(
        backend.get_random_password(password_length=int(spec.get("PasswordLength", DEFAULT_PASSWORD_LENGTH)), **options)
    )["RandomPassword"]
    if "SecretStringTemplate" in spec and "GenerateStringKey" in spec:
        return json.dumps({**json.loads(spec["SecretStringTemplate"]), spec["GenerateStringKey"]: password})
    return str(password)


class SecretModel(CloudFormationModel):
    """A moto secret created by CloudFormation."""

    def __init__(self, arn: str, name: str, account_id: str, region_name: str) -> None:
        self.arn, self.name, self.account_id, self.region_name = arn, name, account_id, region_name

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::SecretsManager::Secret"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr == "Id"

    @property
    def physical_resource_id(self) -> str:
        return self.arn

    def get_cfn_attribute(self, attribute_name: str) -> str:
        if attribute_name == "Id":
            return self.arn
        raise NotImplementedError(attribute_name)

    @classmethod
    def create_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> Any:
        props = cloudformation_json.get("Properties", {})
        backend = _backend(account_id, region_name)
        name = props.get("Name") or f"{resource_name}-{uuid.uuid4().hex[:12]}"
        value = (
            props["SecretString"]
            if "SecretString" in props
            else generated_value(backend, props.get("GenerateSecretString") or {})
        )
        created = backend.create_secret(
            name=name,
            secret_string=value,
            secret_binary=None,
            description=props.get("Description"),
            tags=props.get("Tags"),
            kms_key_id=props.get("KmsKeyId"),
            client_request_token=None,
            replica_regions=[],
            force_overwrite=False,
        )
        return cls(
            json.loads(created)["ARN"] if isinstance(created, str) else created["ARN"], name, account_id, region_name
        )

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        _backend(account_id, region_name).delete_secret(
            resource_name, recovery_window_in_days=None, force_delete_without_recovery=True
        )
