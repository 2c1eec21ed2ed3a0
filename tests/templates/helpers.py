"""Small readers over a synthesized template (a dict), for assertions across every stack."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

# By type, and by type and logical id prefix: the local cloud's lookups, one for every reader.
from localcloud.resources import find_logical_id as find_logical_id
from localcloud.resources import find_resource as find_resource
from localcloud.resources import resources_of_type as resources


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


def api_method(template: dict, http_method: str, path_part: str) -> dict:
    """The properties of the REST API method `http_method` on the resource whose path part is `path_part`."""
    for method in resources(template, "AWS::ApiGateway::Method").values():
        props = method["Properties"]
        if (
            props["HttpMethod"] == http_method
            and ref_target(template, props["ResourceId"])["Properties"]["PathPart"] == path_part
        ):
            return props
    raise AssertionError(f"no {http_method} /{path_part}")


def validated_body_model(template: dict, method: dict) -> dict:
    """The model a method validates JSON bodies against, asserting that API Gateway validates them."""
    assert ref_target(template, method["RequestValidatorId"])["Properties"]["ValidateRequestBody"] is True
    model = ref_target(template, method["RequestModels"]["application/json"])
    assert model["Type"] == "AWS::ApiGateway::Model" and model["Properties"]["ContentType"] == "application/json"
    return model


def only_model_schema(template: dict) -> dict:
    """The JSON schema of the template's one API Gateway model."""
    (model,) = resources(template, "AWS::ApiGateway::Model").values()
    return model["Properties"]["Schema"]


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


def dashboard_metrics(template: dict, dashboard: dict) -> list[tuple[str, str, dict, str]]:
    """(namespace, metric name, dimensions, statistic) of every graph on a dashboard.

    CloudFormation builds DashboardBody with `Fn::Join ["", parts]`, where a part is a string or a
    Ref/GetAtt of a resource; a dimension's value is then that token as it stood in the template,
    so a test can ask which resource a metric is about (with `ref_target`).
    """
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    tokens = {}
    text = ""
    for part in parts:
        if isinstance(part, str):
            text += part
        else:
            placeholder = f"@@token{len(tokens)}@@"
            tokens[placeholder] = part
            text += placeholder
    metrics = []
    for widget in json.loads(text)["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            options = row[-1] if isinstance(row[-1], dict) else {}
            names = [item for item in row if not isinstance(item, dict)]
            namespace, metric_name, *pairs = names
            dimensions = {pairs[i]: _detokenize(pairs[i + 1], tokens) for i in range(0, len(pairs), 2)}
            metrics.append((namespace, metric_name, dimensions, options.get("stat", "Average")))
    return metrics


def _detokenize(value: str, tokens: dict[str, object]) -> object:
    """A dimension value as the template wrote it: a string, one Ref/GetAtt, or an Fn::Join."""
    parts = [tokens.get(piece, piece) for piece in re.split(r"(@@token[0-9]+@@)", value) if piece]
    if len(parts) == 1:
        return parts[0]
    return {"Fn::Join": ["", parts]}
