"""CloudFormation template rules (`Rules`), checked before a stack is created, as CloudFormation does.

moto's CloudFormation ignores a template's `Rules` section. CloudFormation evaluates every rule
before it creates anything: a rule whose `RuleCondition` holds and one of whose `Assertions` is
false stops CreateStack with a ValidationError whose message is the assertion's
`AssertDescription`. `check_rules` does the same for the rule functions the app's templates use
(`Fn::Contains`, `Fn::Equals`, `Fn::And`, `Fn::Or`, `Fn::Not`, `Ref` to a pseudo parameter or a
template parameter); any other function is refused loudly rather than passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError


def check_rules(
    template: Mapping[str, Any], pseudo: Mapping[str, str], parameters: Mapping[str, Any] | None = None
) -> None:
    """Raise CreateStack's ValidationError for the first failing assertion of a template's rules.

    `pseudo`: the pseudo parameters (`AWS::Region`, ...); `parameters`: the template parameters'
    values as CloudFormation resolved them (an SSM-typed parameter's value, not its name), else
    their defaults.
    """
    defaults = {name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()}
    values = {**defaults, **(parameters or {}), **pseudo}
    for name, rule in template.get("Rules", {}).items():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], values):
            continue
        for assertion in rule.get("Assertions", []):
            if not _evaluate(assertion["Assert"], values):
                message = assertion.get("AssertDescription") or f"Template rule {name} failed"
                raise ClientError({"Error": {"Code": "ValidationError", "Message": message}}, "CreateStack")


def _evaluate(expression: Any, values: Mapping[str, Any]) -> Any:
    if not isinstance(expression, dict):
        return [_evaluate(item, values) for item in expression] if isinstance(expression, list) else expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        if argument not in values:
            raise NotImplementedError(f"rule refers to {argument!r}, which the local cloud does not know")
        return values[argument]
    if function == "Fn::Contains":
        members, value = _evaluate(argument, values)
        return value in members
    if function == "Fn::Equals":
        left, right = _evaluate(argument, values)
        return left == right
    if function == "Fn::And":
        return all(_evaluate(item, values) for item in argument)
    if function == "Fn::Or":
        return any(_evaluate(item, values) for item in argument)
    if function == "Fn::Not":
        (inner,) = argument
        return not _evaluate(inner, values)
    raise NotImplementedError(f"rule function {function} is not modelled by the local cloud")
