"""Pattern 2, EventInvoke: analyze uploaded objects."""
