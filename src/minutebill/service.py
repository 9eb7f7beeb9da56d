"""`Billing`: one method per use case, each inside one unit of work."""
