"""Pattern 6, FanOut: a parent fans chunks out to async child invocations; the last one fans in."""
