"""Small readers over a synthesized template (a dict), for assertions across every stack."""

from __future__ import annotations

import re
from typing import Iterator


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def construct_resource(template: dict, resource_type: str, construct_id: str) -> tuple[str, dict]:
    """(logical id, resource) of the one resource a construct made: its logical id is the
    construct id, plus an 8-digit hash when the construct is nested."""
    pattern = re.compile(rf"^{construct_id}([0-9A-F]{{8}})?$")
    (match,) = [(lid, r) for lid, r in resources(template, resource_type).items() if pattern.match(lid)]
    return match


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
