"""A Step Functions task's input, typed: read into a pydantic model, or MalformedData naming what is wrong.

A task's input is what its state machine sends, so input that does not fit is a bug in the
workflow, never worth a retry: MalformedData (not retried), with each problem's field.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, Field, StrictStr, ValidationError

from shared.errors import MalformedData

Model = TypeVar("Model", bound=BaseModel)
Text = Annotated[StrictStr, Field(min_length=1)]  # a non-empty string
MAX_PROBLEMS = 5


def task_input(model: type[Model], event: Any, *, expected: str) -> Model:
    """`event` as `model`; MalformedData saying what was `expected` and each problem otherwise."""
    try:
        return model.model_validate(event)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in e['loc']) or 'the input'}: {e['msg']}"
            for e in error.errors()[:MAX_PROBLEMS]
        )
        raise MalformedData(f"expected {expected} ({problems})") from None
