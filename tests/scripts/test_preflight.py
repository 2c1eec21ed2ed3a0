"""scripts/preflight.py and the operator commands built on it (make deploy/destroy/redrive/approve/
smoke): a missing credential, region or stack is one line on stderr and a non-zero exit, never a
traceback. The commands run in subprocesses with an empty AWS configuration; "not deployed" is
checked in-process against moto (a subprocess cannot see it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError, NoCredentialsError
from botocore.stub import Stubber
from moto import mock_aws

from scripts import approve, preflight, redrive, smoke

ROOT = Path(__file__).resolve().parents[2]
REGION = "eu-west-1"
NO_CREDENTIALS = "no AWS credentials found"


@pytest.fixture
def empty_aws_config(tmp_path) -> dict[str, str]:
    """The process environment minus every AWS_* variable, with empty config and credentials files."""
    (tmp_path / "config").write_text("")
    (tmp_path / "credentials").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "SMOKE_TARGET"}
    return env | {
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance metadata lookups from a laptop or CI runner
    }


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


COMMANDS = {
    "deploy": ["scripts.preflight", "deploy", "ApiSync"],
    "diff": ["scripts.preflight", "diff", "ApiSync"],
    "destroy": ["scripts.preflight", "destroy", "ApiSync"],
    "redrive": ["scripts.redrive", "QueueRedrive"],
    "approve": ["scripts.approve", "j-1"],
}


@pytest.mark.parametrize("command", [*COMMANDS, "smoke"])
def test_without_credentials_each_command_says_so_in_one_line(empty_aws_config, command):
    env = empty_aws_config | {"AWS_REGION": REGION}
    if command == "smoke":  # on its own make smoke falls back to the local cloud; insisting on AWS refuses
        env["SMOKE_TARGET"] = "aws"
    result = run(COMMANDS.get(command, ["scripts.smoke"]), env)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"{command}: {NO_CREDENTIALS}: configure a profile (aws configure / aws sso login) or set AWS_PROFILE"
    ]
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_without_a_region_each_command_says_so_in_one_line(empty_aws_config, command):
    env = empty_aws_config | {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example"}
    result = run(COMMANDS[command], env)
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        [f"{command}: no AWS region set: set AWS_REGION (or a region in your AWS profile)"],
    )
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("deploy", ["scripts.preflight", "deploy", "ApiSynk"]),
        ("diff", ["scripts.preflight", "diff", "ApiSynk"]),
        ("destroy", ["scripts.preflight", "destroy", "ApiSynk"]),
        ("redrive", ["scripts.redrive", "ApiSynk"]),
        ("approve", ["scripts.approve", "j-1", "--stack", "ApiSynk"]),
        ("smoke", ["scripts.smoke", "ApiSynk"]),
    ],
)
def test_an_unknown_stack_name_is_one_line_naming_the_known_ones(empty_aws_config, command, args):
    result = run(args, empty_aws_config)
    (line,) = result.stderr.splitlines()
    assert result.returncode == 1
    first = "ApiSync" if command == "smoke" else "AccountSetup"  # smoke drives the patterns only
    assert (
        line.startswith(f"{command}: unknown stack 'ApiSynk': app.py has {first}, ")
        and "Traceback" not in result.stdout
    )


def test_a_bad_smoke_target_is_one_line(empty_aws_config):
    result = run(["scripts.smoke"], empty_aws_config | {"SMOKE_TARGET": "cloud"})
    assert (result.returncode, result.stderr.splitlines()) == (
        1,
        ["smoke: SMOKE_TARGET='cloud': use aws or local (or leave it unset to choose automatically)"],
    )


# --- the checks themselves ---------------------------------------------------------------------


def test_the_known_stack_names_are_app_pys_account_stacks_and_patterns():
    from app import ACCOUNT_STACKS, PATTERNS

    assert preflight.pattern_names() == list(PATTERNS)
    assert preflight.stack_names() == [*ACCOUNT_STACKS, *PATTERNS]
    assert preflight.known_stack("AccountSetup") == "AccountSetup"


def test_a_missing_stack_name_is_refused():
    with pytest.raises(preflight.Refused, match="name a stack: STACK=<one of AccountSetup, ApiSync, "):
        preflight.known_stack("")


def test_smoke_names_only_pattern_stacks():
    with pytest.raises(preflight.Refused, match="unknown stack 'AccountSetup': app.py has ApiSync, "):
        preflight.known_stack("AccountSetup", patterns_only=True)


@pytest.fixture
def aws(monkeypatch):
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("cloudformation")


def deploy_fake(cloudformation, name: str, outputs: dict[str, str]) -> None:
    """A stack of that name with those outputs (a queue to hang them on)."""
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))


def test_a_stack_not_deployed_is_refused_naming_the_region_and_the_fix(aws):
    with pytest.raises(preflight.Refused) as refused:
        preflight.check("QueueRedrive")
    assert str(refused.value) == f"QueueRedrive is not deployed in {REGION}: run make deploy STACK=QueueRedrive"


def test_a_deployed_stack_passes_and_its_outputs_are_read(aws):
    deploy_fake(aws, "QueueRedrive", {"QueueArn": "arn:q"})
    assert preflight.check("QueueRedrive").region_name == REGION
    assert preflight.outputs_of(preflight.deployed_stack(aws, "QueueRedrive", REGION)) == {"QueueArn": "arn:q"}
    assert preflight.check("ApiSync", deployed=False).region_name == REGION  # deploy: not there yet is fine


def test_aws_region_alone_sets_the_region_as_for_the_cdk_cli(empty_aws_config):
    """boto3 reads AWS_DEFAULT_REGION only; the README and the CDK CLI use AWS_REGION."""
    env = empty_aws_config | {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_REGION": REGION,
    }
    result = run(COMMANDS["deploy"], env)
    assert (result.returncode, result.stdout.splitlines(), result.stderr) == (0, [f"deploy ApiSync in {REGION}"], "")


@pytest.mark.parametrize("command", ["deploy", "diff"])
def test_deploying_a_pattern_where_powertools_publishes_no_layer_is_one_line(empty_aws_config, command):
    env = empty_aws_config | {
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "example",
        "AWS_REGION": "me-south-1",
    }
    result = run(COMMANDS[command], env)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"{command}: Powertools for AWS Lambda publishes no layer parameter in me-south-1")
    assert "Traceback" not in result.stdout + result.stderr


def test_the_layer_check_passes_where_it_is_published_and_for_accountsetup_anywhere():
    preflight.layer_available("ApiSync", "eu-west-1")
    preflight.layer_available("AccountSetup", "me-south-1")
    with pytest.raises(preflight.Refused, match="in me-south-1"):
        preflight.layer_available("ApiSync", "me-south-1")


def test_a_stack_that_failed_to_create_is_refused_with_its_status():
    client = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        stack = {"StackName": "ApiSync", "CreationTime": "2026-11-22T00:00:00Z", "StackStatus": "ROLLBACK_COMPLETE"}
        stubber.add_response("describe_stacks", {"Stacks": [stack]})
        with pytest.raises(preflight.Refused, match="ApiSync is ROLLBACK_COMPLETE in eu-west-1"):
            preflight.deployed_stack(client, "ApiSync", REGION)


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (preflight.Refused("no job j-9"), "cmd: no job j-9"),
        (
            NoCredentialsError(),
            f"cmd: {NO_CREDENTIALS}: configure a profile (aws configure / aws sso login) or set AWS_PROFILE",
        ),
        (
            ClientError(
                {"Error": {"Code": "ExpiredToken", "Message": "The security token included in the request is expired"}},
                "DescribeStacks",
            ),
            "cmd: AWS refused: An error occurred (ExpiredToken) when calling the DescribeStacks operation: The "
            "security token included in the request is expired",
        ),
    ],
)
def test_run_turns_a_refusal_or_an_aws_error_into_one_line_and_status_1(capsys, error, line):
    def body():
        raise error

    assert preflight.run("cmd", body) == 1
    assert capsys.readouterr().err.splitlines() == [line]


def test_redrive_of_a_stack_not_deployed_is_one_line(aws, capsys):
    assert redrive.main(["QueueRedrive"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"redrive: QueueRedrive is not deployed in {REGION}: run make deploy STACK=QueueRedrive"
    ]


def test_redrive_of_a_stack_without_queue_outputs_is_one_line(aws, capsys):
    deploy_fake(aws, "ApiSync", {"QuotesEndpoint": "https://example.com/v1/quotes"})
    assert redrive.main(["ApiSync"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "redrive: ApiSync has no output 'DeadLetterQueueArn': pass --dlq-arn and --destination-arn"
    ]


def test_approve_against_a_stack_not_deployed_is_one_line(aws, capsys):
    assert approve.main(["j-1"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"approve: StandardWorkflow is not deployed in {REGION}: run make deploy STACK=StandardWorkflow"
    ]


def test_smoke_insisting_on_aws_with_nothing_deployed_is_refused(aws, monkeypatch, capsys):
    monkeypatch.setenv("SMOKE_TARGET", "aws")
    assert smoke.main([]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"smoke: no pattern stack is deployed in {REGION}: run make deploy STACK=<one of "
        f"{', '.join(preflight.pattern_names())}>"
    ]
    assert smoke.main(["Webhook"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"smoke: Webhook is not deployed in {REGION}: run make deploy STACK=Webhook"
    ]


def test_smoke_chooses_the_account_only_where_pattern_stacks_are_deployed(aws):
    assert smoke.choose_target(None, "")[0] == "local"
    deploy_fake(aws, "SomethingElse", {})
    assert smoke.choose_target(None, "") == ("local", f"no pattern stack is deployed in {REGION}")
    deploy_fake(aws, "Webhook", {})
    assert smoke.choose_target(None, "") == ("aws", f"deployed in {REGION}: Webhook")
    assert smoke.choose_target("ApiSync", "")[0] == "local"
    assert smoke.choose_target("Webhook", "aws")[0] == "aws"
    assert smoke.choose_target(None, "local") == ("local", "SMOKE_TARGET=local")


def test_smoke_runs_one_patterns_module():
    assert smoke.module_of("StandardWorkflow") == "tests/smoke/test_standard_workflow.py"
    from app import PATTERNS

    assert all((ROOT / smoke.module_of(name)).is_file() for name in PATTERNS), "every pattern has a smoke module"
