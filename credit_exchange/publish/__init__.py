"""credit_exchange/publish."""
