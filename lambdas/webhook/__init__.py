"""Pattern 8, Webhook: a Function URL that verifies a signature, answers at once, then works asynchronously."""
