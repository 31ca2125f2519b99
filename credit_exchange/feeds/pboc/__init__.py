"""credit_exchange/feeds/pboc."""
