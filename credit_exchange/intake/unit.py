"""The one life of a received unit in the store, whatever the feed (docs/guarantees.md, "Guarantees").

A unit is what a department delivers at once: a file in an inbox, a PBoC pair, one pull of an API
endpoint. Each is one ``received_files`` row (the ledger: lineage is the same for all) and goes

    open (status ``processing``) → its records through ``RecordIntake`` → the reject threshold
        → ``accept``: receipt, counts, status ``accepted`` / ``partially_accepted`` / ``rejected``
        → or ``refuse``: refused whole, no records, a receipt that gives the reason

inside the caller's transaction, so a unit's records, its counts and its receipt commit together
or not at all. Where the unit travels (claims, moves, watermarks, the PBoC ledger) stays with its
feed; what the store holds about it is written here only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from credit_exchange.config import Feed
from credit_exchange.intake import receipts
from credit_exchange.intake.records import RecordIntake
from credit_exchange.standard.crypto import PiiVault
from credit_exchange.standard.records import FileRejected
from credit_exchange.store.models import Receipt, ReceivedFile, Reject
from credit_exchange.timeutil import local, now_local


class ReceivedUnit:
    """One received unit's ledger row, and the only code that writes its outcome."""

    def __init__(self, s: Session, feed: Feed, row: ReceivedFile) -> None:
        self.s, self.feed, self.row = s, feed, row

    @classmethod
    def open(cls, s: Session, feed: Feed, name: str, *, size: int | None, run_id: str | None,
             received_at: datetime | None = None, sha256: str | None = None, stored_path: str | None = None,
             dag_id: str | None = None) -> ReceivedUnit:
        """A new ledger row, ``processing`` until the unit's outcome is written; ``dag_id`` and
        ``run_id`` name the Airflow run that takes it (the page per run reads them)."""
        row = ReceivedFile(department=feed.department, name=name, size=size, sha256=sha256, status="processing",
                           received_at=received_at or now_local(), dag_id=dag_id, run_id=run_id, finished=False,
                           stored_path=stored_path, attempts=0)
        s.add(row)
        s.flush()
        return cls(s, feed, row)

    @classmethod
    def of(cls, s: Session, feed: Feed, file_id: int) -> ReceivedUnit:
        """The unit of an existing ledger row (a file claimed by an earlier step of this run)."""
        row = s.get(ReceivedFile, file_id)
        if row is None:
            raise LookupError(f"no received file {file_id}")
        return cls(s, feed, row)

    @property
    def file_id(self) -> int:
        return self.row.id

    def intake(self, vault: PiiVault, validator: Any = None) -> RecordIntake:
        return RecordIntake(self.s, self.feed.department, self.row.id, vault, validator)

    def check_threshold(self, intake: RecordIntake, code: str = "reject_threshold") -> None:
        """Too many rejected records: the unit is refused whole (``FileRejected``; the caller rolls back)."""
        counts, threshold = intake.counts, self.feed.reject_threshold
        if threshold.exceeded(counts.rejected, counts.total):
            raise FileRejected(code, rejected=counts.rejected, total=counts.total, limit=threshold.describe())

    def accept(self, intake: RecordIntake, *, sha256: str | None, size: int | None, finished: bool,
               threshold_code: str = "reject_threshold") -> dict[str, Any]:
        """The unit's records are in: threshold checked, counts and receipt written; the receipt."""
        self.check_threshold(intake, threshold_code)
        counts, processed = intake.counts, now_local()
        receipt = receipts.build(self.row.name, sha256, local(self.row.received_at), processed, counts,
                                 intake.errors, refused_whole=False)
        row = self.row
        row.sha256, row.size, row.status, row.processed_at = sha256, size, receipt["status"], processed
        row.finished = row.finished or finished
        for key, value in counts.as_dict().items():
            setattr(row, key, value)
        self._receipt(receipt, processed)
        return receipt

    def refuse(self, exc: FileRejected, *, sha256: str | None, finished: bool,
               size: int | None = None) -> dict[str, Any]:
        """Refused whole: no records, the reason as the receipt's one error and as a reject; the receipt."""
        processed = now_local()
        errors = receipts.ReceiptErrors()
        errors.add("file", None, "", "", exc.code, exc.message)
        receipt = receipts.build(self.row.name, sha256, local(self.row.received_at), processed, receipts.Counts(),
                                 errors, refused_whole=True)
        row = self.row
        row.sha256, row.status, row.processed_at = sha256, "rejected", processed
        if size is not None:
            row.size = size
        row.error_code, row.error_message = exc.code, exc.message
        row.finished = row.finished or finished
        self.s.add(Reject(file_id=row.id, position="file", code=exc.code, message=exc.message))
        self._receipt(receipt, processed)
        return receipt

    def _receipt(self, receipt: dict[str, Any], at: datetime) -> None:
        self.s.add(Receipt(file_id=self.row.id, department=self.feed.department, status=receipt["status"],
                           body=receipts.dumps(receipt).decode("utf-8"), created_at=at))
