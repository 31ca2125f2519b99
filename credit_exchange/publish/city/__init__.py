"""credit_exchange/publish/city."""
