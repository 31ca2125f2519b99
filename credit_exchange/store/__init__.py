"""The hub's store: models, migrations and sessions."""

from credit_exchange.store.db import Store, migrate, sqlalchemy_url
from credit_exchange.store.models import (
    Base,
    Batch,
    Delivery,
    OutboxItem,
    Receipt,
    ReceivedFile,
    Record,
    RecordVersion,
    Reject,
    SourceState,
)

__all__ = [
    "Base", "Batch", "Delivery", "OutboxItem", "ReceivedFile", "Receipt", "Record",
    "RecordVersion", "Reject", "SourceState", "Store", "migrate", "sqlalchemy_url",
]
