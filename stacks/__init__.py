"""One CDK stack per pattern, plus the shared construct library in `stacks.shared`."""
