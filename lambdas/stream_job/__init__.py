"""Pattern 7, StreamJob: a job API writes `pending` records; a DynamoDB stream runs them."""
