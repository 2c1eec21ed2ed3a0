"""Pattern 3, QueueRedrive: order messages from SQS."""
