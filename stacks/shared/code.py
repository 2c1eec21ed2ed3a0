"""Where the Lambda code is: the one place the construct library says so.

Each pattern's handlers live in `<code directory>/<pattern>/`, next to the shared package
`<code directory>/shared/`. The code directory is, in order:

1. a construct's `code_directory=` prop (the pattern construct sets it as context for everything
   it holds);
2. the CDK context value `lambda_code_directory` (cdk.json, or `cdk synth -c ...`), relative to
   the directory `cdk` runs in;
3. the folder `lambdas` beside the folder that holds this library: `<root>/lambdas` for the library
   in `<root>/stacks`, whatever `<root>` and the library's own folder are called.

So the library and the code can sit anywhere in an app; only their relative place, or one context
value, says where the code is. The constants a pattern's stack and handlers share (environment
variable and output names, `<pattern>/names.py`) are read from the same folder by
`pattern_names`, so nothing in the library imports the Lambda code by a package name.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

CODE_DIRECTORY_CONTEXT = "lambda_code_directory"
DEFAULT_CODE_DIRECTORY = Path(__file__).resolve().parents[2] / "lambdas"
SHARED_PACKAGE = "shared"
# What tools leave in a code folder and no function needs: kept out of every asset, so its hash
# (and so the deploy) does not change when someone runs the tests or a type checker there.
TOOL_LEFTOVERS = [
    "**/__pycache__",
    "**/*.pyc",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.pytest_cache",
    "**/.hypothesis",
]

_names_modules: dict[Path, ModuleType] = {}


def code_directory(scope: Construct) -> Path:
    """The folder holding every pattern's Lambda code (see the module doc for how it is chosen)."""
    configured = scope.node.try_get_context(CODE_DIRECTORY_CONTEXT)
    return Path(str(configured)).resolve() if configured else DEFAULT_CODE_DIRECTORY


def pattern_folder(scope: Construct, pattern: str) -> Path:
    """`<code directory>/<pattern>`, or a ValueError naming the folder it looked for and how to point elsewhere."""
    directory = code_directory(scope)
    for needed in (pattern, SHARED_PACKAGE):
        if not (directory / needed).is_dir():
            raise ValueError(
                f"no Lambda code folder {directory / needed}: {scope.node.path} needs the folders {pattern}/ and "
                f"{SHARED_PACKAGE}/ of the project's lambdas/ in one directory. Put that directory beside the "
                f"construct library's folder and name it lambdas, or give its path as the construct's "
                f"code_directory=... or as the CDK context value {CODE_DIRECTORY_CONTEXT}"
            )
    return directory / pattern


def pattern_code(scope: Construct, pattern: str) -> lambda_.Code:
    """The asset for one pattern: its own folder and the shared package, nothing else.

    The asset's root is the code directory, so a handler path such as `api_sync.handler.main`
    imports the same way in Lambda and in the tests (which put that directory on `sys.path`).
    """
    folder = pattern_folder(scope, pattern)
    return lambda_.Code.from_asset(
        str(folder.parent),
        exclude=["*", f"!{pattern}", f"!{pattern}/**", f"!{SHARED_PACKAGE}", f"!{SHARED_PACKAGE}/**", *TOOL_LEFTOVERS],
    )


def pattern_names(scope: Construct, pattern: str) -> ModuleType:
    """`<code directory>/<pattern>/names.py`, loaded from its file: the names a stack and its handlers share.

    A names module holds constants only and imports nothing of the project, so it loads on its own.
    """
    path = pattern_folder(scope, pattern) / "names.py"
    module = _names_modules.get(path)
    if module is None:
        spec = importlib.util.spec_from_file_location(f"_pattern_names_{pattern}", path)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _names_modules[path] = module
    return module
