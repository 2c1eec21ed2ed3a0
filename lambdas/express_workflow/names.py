"""Names that cross the boundary between the ExpressWorkflow stack, its handlers and scripts."""

# Environment variables (the stack sets them, handlers read them).
MAX_FRAUD_SCORE_ENV = "MAX_FRAUD_SCORE"

# Stack outputs (smoke tests and users read them).
API_URL_OUTPUT = "ApiUrl"  # the API's base URL, written by PatternRestApi (its construct id is "Api")
ORDER_CHECK_URL_OUTPUT = "OrderCheckUrl"  # POST /orders/check
STATE_MACHINE_ARN_OUTPUT = "StateMachineArn"

# The outcome a rejected order's run ends with (a Succeed state's output); response.vtl maps it to 400.
REJECTED_OUTCOME = "rejected"
