"""credit_exchange/merge."""
