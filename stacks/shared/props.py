"""How every construct of the library combines its defaults with a caller's props.

The way aws-solutions-constructs does it (`consolidateProps(defaultProps, clientProps)`): each
construct writes its defaults once as a dict of keyword arguments, and the caller's keyword
arguments are merged over them, the caller winning. So a caller can override any default
(`memory_size`, `role`, `layers`, `tracing`...) without a "got multiple values for keyword
argument" error, and without the construct listing every property it passes through.

Mappings named in `merge_keys` (such as a function's `environment`) are merged key by key
instead of replaced, so a caller adds variables without losing the defaults ones; to drop a
default variable, override it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def consolidate_props(
    defaults: Mapping[str, Any],
    overrides: Mapping[str, Any],
    *,
    merge_keys: Iterable[str] = (),
) -> dict[str, Any]:
    """`defaults` with `overrides` on top; the mappings under `merge_keys` are merged one level."""
    props = {**defaults, **overrides}
    for key in merge_keys:
        if isinstance(defaults.get(key), Mapping) and isinstance(overrides.get(key), Mapping):
            props[key] = {**defaults[key], **overrides[key]}
    return props
