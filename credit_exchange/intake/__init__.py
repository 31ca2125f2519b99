"""credit_exchange/intake."""
