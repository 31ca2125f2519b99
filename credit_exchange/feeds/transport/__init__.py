"""credit_exchange/feeds/transport."""
