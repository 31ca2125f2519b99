"""credit_exchange/derive."""
