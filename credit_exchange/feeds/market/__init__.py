"""credit_exchange/feeds/market."""
