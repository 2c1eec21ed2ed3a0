"""The local cloud is a package of its own: it runs without the test suite next to it."""

from __future__ import annotations

import ast
from pathlib import Path

import localcloud

PACKAGE = Path(localcloud.__file__).parent


def imported_modules(source: Path) -> set[str]:
    tree = ast.parse(source.read_text())
    names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    return names | {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 0
    }


def test_no_module_of_localcloud_imports_from_tests() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            m for m in imported_modules(path) if m == "tests" or m.startswith("tests.")
        )
        for path in sorted(PACKAGE.rglob("*.py"))
    }
    assert {path: found for path, found in offenders.items() if found} == {}


def test_every_front_door_answers_with_the_one_response_type() -> None:
    from localcloud import function_urls, rest_api
    from localcloud.responses import HttpResponse

    assert type(function_urls.translate_response({"statusCode": 204})) is HttpResponse
    assert rest_api.LocalRestApi.request.__annotations__["return"] == "HttpResponse"


def test_every_name_the_package_offers_is_found_where_it_says() -> None:
    assert sorted(localcloud.__all__) == sorted(localcloud._HOMES)
    for name in localcloud.__all__:
        assert getattr(localcloud, name) is not None
