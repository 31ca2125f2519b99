"""credit_exchange/publish/county."""
