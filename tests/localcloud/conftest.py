"""The local cloud's own tests: purpose-built fixture stacks (fixture_app.py), synthesized once."""

from __future__ import annotations

import pytest

from tests.conftest import synthesized_once


@pytest.fixture(scope="session")
def fixture_assembly(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The purpose-built stacks of fixture_app.py, synthesized once."""
    from tests.localcloud.fixture_app import synth

    return str(synthesized_once(tmp_path_factory, "fixture.out", synth))
