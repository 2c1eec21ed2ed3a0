"""Pattern 5, StandardWorkflow: a CSV aggregation job longer than one Lambda may run."""
