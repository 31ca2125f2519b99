"""credit_exchange/standard."""
