"""The hub's store: models, migrations and sessions."""

from credit_exchange.store.db import Store, migrate, sqlalchemy_url
from credit_exchange.store.models import (
    Alert,
    Base,
    Batch,
    CityFile,
    CityState,
    Claim,
    DataQualityIssue,
    Delivery,
    DeriveRun,
    ListState,
    OutboxItem,
    Receipt,
    ReceivedFile,
    Record,
    RecordVersion,
    Reject,
    SourcePair,
    SourceState,
    SubjectPending,
    SubjectReview,
    Watermark,
)

__all__ = [
    "Alert", "Base", "Batch", "CityFile", "CityState", "Claim", "DataQualityIssue", "Delivery", "DeriveRun",
    "ListState", "OutboxItem", "ReceivedFile", "Receipt", "Record", "RecordVersion", "Reject", "SourcePair",
    "SourceState", "Store", "SubjectPending", "SubjectReview", "Watermark", "migrate", "sqlalchemy_url",
]
