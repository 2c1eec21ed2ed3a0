"""Make a template comparable across edits to Lambda code.

Asset hashes (the S3 key of a function's code zip, asset paths in metadata) change whenever a
handler changes; everything else in the template changes only when a resource does.
"""

from __future__ import annotations

import json
import re

ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")
PLACEHOLDER = "<asset-hash>"


def normalise(template: dict) -> dict:
    return json.loads(ASSET_HASH.sub(PLACEHOLDER, json.dumps(template)))
