"""Small readers over a synthesized template (a dict), for assertions across every stack."""

from __future__ import annotations

from typing import Iterator


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def ref_target(template: dict, value: object) -> dict:
    """The resource a {"Ref": ...} or {"Fn::GetAtt": [...]} points at."""
    assert isinstance(value, dict), value
    logical_id = value["Ref"] if "Ref" in value else value["Fn::GetAtt"][0]
    return template["Resources"][logical_id]


def policy_statements(template: dict) -> Iterator[tuple[str, dict]]:
    """Every IAM statement in the template: inline role policies and AWS::IAM::Policy resources."""
    for lid, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                yield lid, statement
    for lid, policy in resources(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            yield lid, statement


def as_list(value: object) -> list:
    return value if isinstance(value, list) else [value]
