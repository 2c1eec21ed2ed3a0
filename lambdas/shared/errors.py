"""Errors a workflow task raises, named for the state machine's Retry and Catch rules.

Step Functions sees a Lambda exception's class name as the error name: retry `TransientError`
with backoff; never retry anything else (bad data stays bad).
"""

from __future__ import annotations


class TransientError(Exception):
    """A failure worth retrying: throttling, a dependency briefly unavailable."""


class MalformedData(Exception):
    """Input that will never succeed: the message names what is wrong, and where."""
