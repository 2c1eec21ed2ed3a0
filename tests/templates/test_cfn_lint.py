"""cfn-lint over every template in the cloud assembly."""

from __future__ import annotations

from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from app import ACCOUNT_STACKS, PATTERNS

# W3005 (redundant DependsOn): CDK adds an explicit DependsOn from each function to its role so
# the role's policies exist before the function runs; harmless, and not ours to change.
IGNORED = ["W3005"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


@pytest.mark.parametrize("stack_id", [*ACCOUNT_STACKS, *PATTERNS])
def test_cfn_lint_reports_nothing(cloud_assembly, stack_id):
    path = Path(cloud_assembly.directory) / cloud_assembly.get_stack_by_name(stack_id).template_file
    matches = lint_file(path, config=ManualArgs(regions=REGIONS, ignore_checks=IGNORED))
    assert [str(m) for m in matches] == []
