"""Names that cross a boundary, written once: stack outputs <-> end-to-end and smoke tests.

`<THING>_OUTPUT` names a stack output; `<THING>_ENV` would name an environment variable the
stack sets and the handler reads (QuotesFunction needs none beyond Powertools' own). See
lambdas/event_invoke/names.py for the convention.
"""

# Stack outputs.
QUOTES_ENDPOINT_OUTPUT = "QuotesEndpoint"
FUNCTION_NAME_OUTPUT = "FunctionName"
