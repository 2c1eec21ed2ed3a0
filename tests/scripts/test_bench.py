"""scripts/bench.py's pure parts: reading functions and assets from an assembly, zipping, verdicts."""

from __future__ import annotations

import argparse
import io
import json
import os
import zipfile

import pytest

from scripts import bench


def test_verdicts_and_table():
    assert (bench.verdict(True), bench.verdict(False), bench.verdict(None)) == ("met", "NOT met", "")
    text = bench.table(
        [bench.Figure("a", "1 s", "≤ 2 s", True), bench.Figure("b", "3 s", "≤ 2 s", False), bench.Figure("base", "9 s")]
    )
    assert text.splitlines() == [
        "| what | figure | target | |",
        "|---|---|---|---|",
        "| a | 1 s | ≤ 2 s | met |",
        "| b | 3 s | ≤ 2 s | NOT met |",
        "| base | 9 s |  |  |",
    ]


@pytest.mark.parametrize(
    ("value", "met", "shown"),
    [(0.3, True, "300 ms = 2.00x"), (0.301, False, "301 ms = 2.01x"), (0.12, True, "120 ms = 0.80x")],
)
def test_ratio_figure_is_met_up_to_the_limit(value, met, shown):
    figure = bench.ratio_figure("import x", value, 0.15, 2.0, "ms", 1000)
    assert figure == bench.Figure("import x", shown, "≤ 2x", met)


def test_per_stack_figure_divides_what_synth_adds_above_the_floor():
    figure = bench.per_stack_figure(12.0, 6.0, 9)
    assert (figure.what, figure.value, figure.met) == (
        "`cdk synth` above the baseline, per stack (9 stacks)",
        "0.67 s",
        None,
    )


def test_size_figure_in_kilobytes():
    assert bench.size_figure("code", 50 * 1024) == bench.Figure("code", "50.0 KB", "≤ 50 KB", True)
    assert bench.size_figure("code", 50 * 1024 + 1).met is False


def test_a_directory_is_zipped_with_relative_paths_and_deflated(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "handler.py").write_text("x = 1\n" * 20_000)  # 120 KB that compresses well
    (tmp_path / "top.py").write_bytes(os.urandom(10_000))  # 10 KB that does not
    archive = bench.zipped(tmp_path)
    with zipfile.ZipFile(io.BytesIO(archive)) as opened:
        assert sorted(opened.namelist()) == ["pkg/handler.py", "top.py"]
        assert opened.read("pkg/handler.py") == b"x = 1\n" * 20_000
    assert 10_000 < len(archive) < 12_000


def test_a_file_asset_is_measured_as_it_is(tmp_path):
    (tmp_path / "code.zip").write_bytes(b"z" * 1234)
    assert len(bench.zipped(tmp_path / "code.zip")) == 1234


def write_assembly(tmp_path):
    template = {
        "Resources": {
            "ApiFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "fan_out.api.main",
                    "Runtime": "python3.14",
                    "Code": {"S3Bucket": {"Fn::Sub": "assets"}, "S3Key": "abc.zip"},
                    "Environment": {"Variables": {"BATCH_TTL_SECONDS": "60", "BATCHES_TABLE": {"Ref": "Table"}}},
                },
            },
            "ChildFunction": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "fan_out.child.main", "Runtime": "python3.14", "Code": {"S3Key": "abc.zip"}},
            },
            "SecondEntryPoint": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "fan_out.child.other", "Runtime": "python3.14", "Code": {"S3Key": "abc.zip"}},
            },
            "Provider": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "index.handler", "Runtime": "nodejs24.x", "Code": {"S3Key": "def.zip"}},
            },
            "Table": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        }
    }
    assets = {
        "files": {
            "abc": {"source": {"path": "asset.abc", "packaging": "zip"}},
            "def": {"source": {"path": "asset.def", "packaging": "zip"}},
        }
    }
    (tmp_path / "FanOut.template.json").write_text(json.dumps(template))
    (tmp_path / "FanOut.assets.json").write_text(json.dumps(assets))


def test_functions_and_their_lambda_environment_come_from_the_templates(tmp_path):
    write_assembly(tmp_path)
    found = bench.functions(tmp_path)
    assert [(f.logical_id, f.handler, f.asset) for f in found] == [
        ("ApiFunction", "fan_out.api.main", "asset.abc"),
        ("ChildFunction", "fan_out.child.main", "asset.abc"),
        ("SecondEntryPoint", "fan_out.child.other", "asset.abc"),
        ("Provider", "index.handler", "asset.def"),
    ]
    environments = bench.handler_environments(found)
    assert list(environments) == ["fan_out.api", "fan_out.child"]  # one import per module, no node.js
    api = environments["fan_out.api"]
    assert api["BATCH_TTL_SECONDS"] == "60" and api["BATCHES_TABLE"] == "bench-ApiFunction-batches_table"
    assert api["LAMBDA_TASK_ROOT"] and api["AWS_LAMBDA_FUNCTION_NAME"] and api["AWS_DEFAULT_REGION"]


def test_assets_are_grouped_by_the_functions_using_them(tmp_path):
    write_assembly(tmp_path)
    by_asset = bench.assets(bench.functions(tmp_path))
    assert {path: len(users) for path, users in by_asset.items()} == {"asset.abc": 3, "asset.def": 1}
    assert bench.asset_label(by_asset["asset.abc"]) == "code of FanOut (fan_out.api, fan_out.child)"
    assert bench.asset_label(by_asset["asset.def"]) == "code of FanOut (Provider, nodejs24.x)"


def test_only_accepts_known_parts():
    assert bench.parse_only("imports, assets") == ("imports", "assets")
    for bad in ("imports,speed", "", ","):
        with pytest.raises(argparse.ArgumentTypeError):
            bench.parse_only(bad)


def test_the_suite_runs_as_make_test_runs_it_and_a_failing_run_misses_the_target(monkeypatch):
    commands: list[list[str]] = []
    results = iter([80.0, -70.0, 85.0])
    monkeypatch.setattr(bench, "timed", lambda command, **kw: commands.append(command) or next(results))
    figure = bench.suite_figure(3)
    assert commands == [[bench.PYTHON, "-m", "pytest"]] * 3  # no options of the bench's own
    assert figure == bench.Figure("test suite, as `make test` runs it", "80 s (FAILED in 1 of 3 runs)", "≤ 90 s", False)
    results = iter([95.0, 60.0, 89.0])
    assert bench.suite_figure(3) == bench.Figure("test suite, as `make test` runs it", "89 s", "≤ 90 s", True)


def test_the_page_is_the_table_with_its_machine_and_date():
    figures = [
        bench.Figure("synth", "1.2x", "at most 1.5x", True),
        bench.Figure("tests", "95 s", "at most 90 s", False),
    ]
    text = bench.page(figures, "x86_64, 2 cores", "1 target(s) NOT met.", ("synth", "tests"))
    assert text.startswith("# Benchmarks\n")
    assert "- Machine: x86_64, 2 cores\n" in text and "- Measured: synth, tests\n" in text
    assert bench.table(figures) in text and text.endswith("1 target(s) NOT met.\n")
