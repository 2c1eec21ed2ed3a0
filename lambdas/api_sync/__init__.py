"""Pattern 1, ApiSync: the quotes API."""
