"""A snapshot per stack: a safety net that shows every change to a template in review.

Update deliberately with `.venv/bin/pytest --snapshot-update` and read the diff.
"""

from __future__ import annotations

import copy

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

from app import ACCOUNT_STACKS, PATTERNS
from tests.templates.normalise import PLACEHOLDER, normalise


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack_id", [*ACCOUNT_STACKS, *PATTERNS])
def test_template_matches_snapshot(templates, snapshot_json, stack_id):
    assert normalise(templates[stack_id]) == snapshot_json


def _first_function(template: dict) -> dict:
    return next(r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::Function")


def test_a_code_change_does_not_change_the_snapshot(templates):
    template = templates["ApiSync"]
    edited = copy.deepcopy(template)
    _first_function(edited)["Properties"]["Code"]["S3Key"] = "f" * 64 + ".zip"
    assert _first_function(template)["Properties"]["Code"]["S3Key"] != "f" * 64 + ".zip"
    assert normalise(edited) == normalise(template)
    assert PLACEHOLDER in _first_function(normalise(template))["Properties"]["Code"]["S3Key"]


def test_a_resource_change_does_change_the_snapshot(templates):
    template = templates["ApiSync"]
    edited = copy.deepcopy(template)
    _first_function(edited)["Properties"]["Timeout"] += 1
    assert normalise(edited) != normalise(template)
