"""Lambda code every pattern may import. Each function's asset holds this package."""
