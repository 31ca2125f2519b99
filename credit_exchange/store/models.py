"""The hub's own store: what was received, taken, merged and pushed.

Every table is append-mostly and keyed so that a replayed run finds what an
earlier one did. Personal data never lands here in clear text: record bodies
are stored with their PII fields encrypted (see ``credit_exchange.standard.crypto``) and
batch bodies for the county platform are encrypted whole.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from credit_exchange.timeutil import LOCAL


class LocalTime(TypeDecorator[datetime]):
    """A point in time: aware datetimes in, aware Asia/Shanghai datetimes out, on every database.

    PostgreSQL keeps ``timestamptz``. SQLite has no time zones: it keeps the Asia/Shanghai wall
    time without an offset (what the hub has always written there), and reading adds the offset
    back. Nothing is ever read in the host's time zone, and a naive datetime is refused on the
    way in (it would mean whatever the writer's host thought).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given for a time column: give it a time zone")
        if dialect.name == "sqlite":
            return value.astimezone(LOCAL).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=LOCAL)
        return value.astimezone(LOCAL)


class Base(DeclarativeBase):
    pass


class ReceivedFile(Base):
    """One file taken from a department (the ledger of what was taken)."""

    __tablename__ = "received_files"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    # processing -> accepted | partially_accepted | rejected
    status: Mapped[str] = mapped_column(String(32), default="processing")
    received_at: Mapped[datetime] = mapped_column(LocalTime())
    processed_at: Mapped[datetime | None] = mapped_column(LocalTime())
    # where the file now lies on its server: archive/... or quarantine/...
    stored_path: Mapped[str | None] = mapped_column(String(512))
    # set once the file was moved and its receipt written
    finished: Mapped[bool] = mapped_column(Boolean, default=False)
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    stale: Mapped[int] = mapped_column(Integer, default=0)
    # the Airflow dag run that took the unit (run ids repeat across DAGs: both are needed)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    run_id: Mapped[str | None] = mapped_column(String(255))
    # tries that stopped on a transient error (connection, store); past a limit the unit is refused
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index("ix_received_files_dept_name", "department", "name", "sha256"),
                      Index("ix_received_files_dag_run", "dag_id", "run_id"))


class Claim(Base):
    """Who is taking a received unit right now (a file in processing/, a PBoC pair, an API endpoint).

    ``owner`` is the task and process that holds it; ``lease_until`` is renewed while it works and
    ``generation`` grows with every renewal, so a takeover of a claim whose owner seemed gone fails
    when the owner renewed meanwhile (credit_exchange.store.claims).
    """

    __tablename__ = "claims"
    department: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str] = mapped_column(String(512))
    lease_until: Mapped[datetime] = mapped_column(LocalTime())
    generation: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime] = mapped_column(LocalTime())


class Delivery(Base):
    """One record as a department delivered it, with its outcome."""

    __tablename__ = "deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("received_files.id"))
    ordinal: Mapped[int] = mapped_column(Integer)
    position: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str | None] = mapped_column(String(255), index=True)
    department: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(64))
    dept_record_id: Mapped[str | None] = mapped_column(String(128))
    dept_version: Mapped[int | None] = mapped_column(Integer)
    op: Mapped[str | None] = mapped_column(String(16))
    # accepted | unchanged | stale | rejected
    outcome: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    data_enc: Mapped[str | None] = mapped_column(Text)
    merged: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        Index("ix_deliveries_unmerged", "outcome", "merged"),
        Index("ix_deliveries_file_ordinal", "file_id", "ordinal", unique=True),
    )


class Reject(Base):
    """Why a record (or a whole file, delivery_id empty) was refused."""

    __tablename__ = "rejects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("received_files.id"), index=True)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    position: Mapped[str] = mapped_column(String(64))
    dept_record_id: Mapped[str | None] = mapped_column(String(128))
    field: Mapped[str | None] = mapped_column(String(128))
    field_code: Mapped[str | None] = mapped_column(String(128))
    code: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)


class SourceState(Base):
    """The newest delivery taken per record: decides accepted / unchanged / stale."""

    __tablename__ = "source_state"
    record_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    dept_version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    op: Mapped[str] = mapped_column(String(16))
    delivery_id: Mapped[int] = mapped_column(Integer)


class Record(Base):
    """The merged, current state of a record in the hub."""

    __tablename__ = "records"
    record_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    department: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(64), index=True)
    hub_version: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    data_enc: Mapped[str] = mapped_column(Text)
    subject_key: Mapped[str | None] = mapped_column(String(128), index=True)
    subject_kind: Mapped[str | None] = mapped_column(String(32))
    subject_name: Mapped[str | None] = mapped_column(String(255))
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    updated_at: Mapped[datetime] = mapped_column(LocalTime())


class RecordVersion(Base):
    """Every hub version of every record, with the delivery it came from."""

    __tablename__ = "record_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(255))
    hub_version: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(16))
    content_hash: Mapped[str] = mapped_column(String(64))
    data_enc: Mapped[str] = mapped_column(Text)
    # the subject as the county platform wants it (JSON, a person's ID number encrypted)
    subject_enc: Mapped[str] = mapped_column(Text)
    delivery_id: Mapped[int | None] = mapped_column(ForeignKey("deliveries.id"))
    created_at: Mapped[datetime] = mapped_column(LocalTime())
    __table_args__ = (UniqueConstraint("record_id", "hub_version", name="uq_record_versions_id_version"),)


class OutboxItem(Base):
    """A record version owed to a platform, and what became of it."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(16))
    record_id: Mapped[str] = mapped_column(String(255))
    hub_version: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(16))
    # pending -> batched -> done | failed ; superseded when a newer version is owed
    status: Mapped[str] = mapped_column(String(16), default="pending")
    batch_id: Mapped[str | None] = mapped_column(String(64), index=True)
    result: Mapped[str | None] = mapped_column(String(16))
    result_code: Mapped[str | None] = mapped_column(String(64))
    result_message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(LocalTime())
    updated_at: Mapped[datetime] = mapped_column(LocalTime())
    __table_args__ = (
        UniqueConstraint("platform", "record_id", "hub_version", name="uq_outbox_platform_record_version"),
        # With the id: a push takes the owed versions in id order, a batch at a time, by keyset.
        Index("ix_outbox_platform_status_id", "platform", "status", "id"),
    )


class Batch(Base):
    """A batch as sent to a platform; its body is kept (encrypted) so a resend is byte-identical."""

    __tablename__ = "batches"
    batch_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    # prepared -> done | failed ; attempts counts sends
    status: Mapped[str] = mapped_column(String(16), default="prepared")
    record_count: Mapped[int] = mapped_column(Integer)
    body_sha256: Mapped[str] = mapped_column(String(64))
    body_enc: Mapped[bytes] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(LocalTime())
    completed_at: Mapped[datetime | None] = mapped_column(LocalTime())
    # the Airflow dag run that prepared the batch (a resend in a later run keeps it)
    dag_id: Mapped[str | None] = mapped_column(String(250))
    run_id: Mapped[str | None] = mapped_column(String(255))
    __table_args__ = (Index("ix_batches_dag_run", "dag_id", "run_id"),)


class Receipt(Base):
    """The receipt (回执) written back for a received file."""

    __tablename__ = "receipts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("received_files.id"), unique=True)
    department: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    written_to: Mapped[str | None] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(LocalTime())


class Watermark(Base):
    """How far a pulled feed has been read (transport API: the server_time of the last completed pull)."""

    __tablename__ = "watermarks"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(LocalTime())


class SourcePair(Base):
    """A PBoC data/control file pair as seen on their read-only outbox, and whether it was taken."""

    __tablename__ = "source_pairs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(255))
    # the SM3 digest the control file announces: a changed digest is a new pair to take
    announced_sm3: Mapped[str] = mapped_column(String(64))
    announced_count: Mapped[int | None] = mapped_column(Integer)
    # pending (failed a check, re-checked next run) | taken | corrupt (failed three runs: alert)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_problem: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[int | None] = mapped_column(ForeignKey("received_files.id"))
    first_seen_at: Mapped[datetime] = mapped_column(LocalTime())
    updated_at: Mapped[datetime] = mapped_column(LocalTime())
    __table_args__ = (UniqueConstraint("department", "name", "announced_sm3", name="uq_source_pairs_name_sm3"),)


class Alert(Base):
    """Something an admin must look at; also sent by mail / chat robot when those are configured."""

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    # the department or platform concerned
    source: Mapped[str] = mapped_column(String(32))
    # what it is about: a file name, a batch id, a record id
    subject: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(LocalTime())
    # when it was handed to the notification channels (mail, chat robot)
    notified_at: Mapped[datetime | None] = mapped_column(LocalTime())
    resolved_at: Mapped[datetime | None] = mapped_column(LocalTime())
    # closed by hand: who (page user or qianwei-hub actor) and their note, masked; NULL when the hub closed it
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution_note: Mapped[str | None] = mapped_column(Text)


class DataQualityIssue(Base):
    """A merge finding that is not an error but must not pass silently (e.g. one USCC, two names)."""

    __tablename__ = "data_quality"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64))
    subject_key: Mapped[str] = mapped_column(String(128), index=True)
    record_id: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(LocalTime())


class ListState(Base):
    """Per subject and list: the state the rules decided, and since when (red-list stretches, listing dates)."""

    __tablename__ = "list_state"
    subject_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    list_type: Mapped[str] = mapped_column(String(16), primary_key=True)  # redlist | blacklist
    status: Mapped[str] = mapped_column(String(16))  # listed | removed
    qualified_since: Mapped[str | None] = mapped_column(String(10))
    last_decided: Mapped[str] = mapped_column(String(10))
    rules: Mapped[str | None] = mapped_column(Text)


class SubjectPending(Base):
    """A subject whose department records changed since derive last decided it (a dirty mark).

    Written by ``merge.versioning.write_versions`` in the transaction that writes the record
    version, for the record's subject and, when a new version moves the record to another
    subject, the one it leaves. Derive deletes the marks it saw, by id, in the transaction that
    writes the subject's derived records; a mark written meanwhile stays for the next run.
    """

    __tablename__ = "subjects_pending"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_key: Mapped[str] = mapped_column(String(128), index=True)
    marked_at: Mapped[datetime] = mapped_column(LocalTime())


class SubjectReview(Base):
    """Per subject derive decided: the first later run date at which time alone could change the decision.

    ``review_on`` empty: nothing about the subject changes with time (only new records can). A run on
    or after ``review_on`` re-decides the subject even when none of its records changed.
    """

    __tablename__ = "subject_reviews"
    subject_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    review_on: Mapped[str | None] = mapped_column(String(10), index=True)
    decided_on: Mapped[str] = mapped_column(String(10))


class DeriveRun(Base):
    """One run of derive: for which run date, under which rules, full or incremental, and how it ended."""

    __tablename__ = "derive_runs"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_date: Mapped[str] = mapped_column(String(10))
    # sha256 of the rules as loaded (RuleSet.fingerprint) and of the derive format
    rules_hash: Mapped[str] = mapped_column(String(64))
    # full | incremental; reason: why full (first, rules, replay, asked) or "changed+due"
    mode: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    subjects: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    due: Mapped[int] = mapped_column(Integer, default=0)
    new_versions: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(LocalTime())
    finished_at: Mapped[datetime | None] = mapped_column(LocalTime())


class CityState(Base):
    """What the city platform holds of a record from us, as far as the hub knows."""

    __tablename__ = "city_state"
    record_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(64))
    hub_version: Mapped[int] = mapped_column(Integer)
    # add | update | delete: the op last sent
    op: Mapped[str] = mapped_column(String(16))
    # sent (no receipt yet) | ok | error
    status: Mapped[str] = mapped_column(String(16))
    file_name: Mapped[str] = mapped_column(String(255), index=True)
    # the id the platform knows it by: the record id, personal data masked (PiiVault.masked_id); NULL = record_id
    city_id: Mapped[str | None] = mapped_column(String(300))
    code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(LocalTime())


class CityFile(Base):
    """A file written for the city platform, from upload to its receipt."""

    __tablename__ = "city_files"
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    file_type: Mapped[str] = mapped_column(String(16))
    record_count: Mapped[int] = mapped_column(Integer)
    sm3: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # prepared -> uploaded -> receipted
    status: Mapped[str] = mapped_column(String(16))
    receipt_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(LocalTime())
    uploaded_at: Mapped[datetime | None] = mapped_column(LocalTime())
    receipt_at: Mapped[datetime | None] = mapped_column(LocalTime())
    # the Airflow dag run that wrote the file
    dag_id: Mapped[str | None] = mapped_column(String(250))
    run_id: Mapped[str | None] = mapped_column(String(255))
    __table_args__ = (Index("ix_city_files_dag_run", "dag_id", "run_id"),)
