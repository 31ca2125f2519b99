"""credit_exchange/feeds/police."""
