"""Pattern 4, ExpressWorkflow: an order check run as a synchronous Express workflow."""
