"""cfn-lint over every template in the cloud assembly."""

from __future__ import annotations

from pathlib import Path

import pytest

from app import ACCOUNT_STACKS, PATTERNS

STACKS = [*ACCOUNT_STACKS, *PATTERNS]
# W3005 (redundant DependsOn): CDK adds an explicit DependsOn from each function to its role so
# the role's policies exist before the function runs; harmless, and not ours to change.
IGNORED = ["W3005"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2"]


@pytest.fixture(scope="module")
def findings(cloud_assembly) -> dict[str, list[str]]:
    """Stack id -> what cfn-lint reports on its template. One run over every template: cfn-lint
    loads its rules once per run, which costs as much as linting a template."""
    from cfnlint.api import ManualArgs, lint_by_config  # 1 s to import: only the worker running this file pays

    paths = {
        Path(cloud_assembly.directory, cloud_assembly.get_stack_by_name(stack_id).template_file).resolve(): stack_id
        for stack_id in STACKS
    }
    matches = lint_by_config(
        ManualArgs(templates=[str(path) for path in paths], regions=REGIONS, ignore_checks=IGNORED)
    )
    found: dict[str, list[str]] = {stack_id: [] for stack_id in STACKS}
    for match in matches:
        # A finding on no template of ours (a configuration error, say) fails every stack's test.
        owners = (
            [paths[Path(match.filename).resolve()]]
            if match.filename and Path(match.filename).resolve() in paths
            else STACKS
        )
        for stack_id in owners:
            found[stack_id].append(str(match))
    return found


@pytest.mark.parametrize("stack_id", STACKS)
def test_cfn_lint_reports_nothing(findings, stack_id):
    assert findings[stack_id] == []
