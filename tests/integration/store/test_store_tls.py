"""The store over TLS: the ``exchange_db`` extras reach libpq, against a real PostgreSQL speaking TLS.

A private PostgreSQL server (``initdb`` in a temporary folder, its own port, ``ssl = on`` with a
certificate of a test CA, and ``hostssl`` only in pg_hba.conf) is started for this module and
stopped by its process id. ``sslmode=verify-full`` with the right CA opens the store and migrates
it; with another CA the driver refuses the server's certificate; without TLS the server refuses
the login. So each extra is shown to reach the driver by what the driver does with it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from credit_exchange.store.db import Store, current_revision, head_revision, sqlalchemy_url

# A fixed validity window around any plausible test date, so no test depends on today's date.
NOT_BEFORE = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2090, 1, 1, tzinfo=dt.UTC)


def _bindir() -> Path:
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
    if out.returncode != 0 or not (Path(out.stdout.strip()) / "initdb").exists():
        pytest.fail("PostgreSQL's server binaries (initdb, postgres) are required: scripts/system-deps.sh")
    return Path(out.stdout.strip())


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _ca(name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _server_cert(ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
                 ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = _key()
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_pg() -> Iterator[dict[str, object]]:
    """A private PostgreSQL with TLS only: {port, ca (path of its CA), other_ca (a CA it is not signed by)}."""
    bindir = _bindir()
    # Not pytest's tmp_path: its folders are private to the test user, and the server may run as postgres.
    base = Path(tempfile.mkdtemp(prefix="qw_tls_pg_"))
    base.chmod(0o755)
    try:
        yield from _serve(bindir, base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _serve(bindir: Path, base: Path) -> Iterator[dict[str, object]]:
    # PostgreSQL refuses to run as root: the server runs as the postgres user when the tests are root.
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = base / "data"
    data.mkdir()
    if as_user:
        shutil.chown(data, "postgres")
    init = subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--no-instructions"], capture_output=True, text=True, check=False)
    if init.returncode != 0:
        pytest.fail("initdb failed: " + init.stdout[-1000:] + init.stderr[-1000:])
    ca_key, ca = _ca("qianwei test CA")
    server_key, server = _server_cert(ca_key, ca)
    (data / "server.crt").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (data / "server.key").write_bytes(_pem_key(server_key))
    (data / "server.key").chmod(0o600)
    if as_user:
        for name in ("server.crt", "server.key"):
            shutil.chown(data / name, "postgres")
    (base / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (base / "other-ca.pem").write_bytes(_ca("another CA")[1].public_bytes(serialization.Encoding.PEM))
    port = _free_port()
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{data}'\n"
                   "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
                   "fsync = off\nshared_buffers = 16MB\nmax_connections = 20\n")
    # TLS only: a connection without TLS finds no pg_hba line and is refused.
    (data / "pg_hba.conf").write_text("local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
                                      encoding="utf-8")
    server_log = open(base / "server.log", "wb")  # noqa: SIM115 - closed after the server stops
    proc = subprocess.Popen([*as_user, str(bindir / "postgres"), "-D", str(data)], stdout=server_log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:  # poll for readiness (pg_isready over the socket folder)
            ready = subprocess.run([str(bindir / "pg_isready"), "-h", str(data), "-p", str(port)],
                                   capture_output=True, check=False)
            if ready.returncode == 0:
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the TLS PostgreSQL did not start: " + (base / "server.log").read_text()[-2000:])
            time.sleep(0.2)
        yield {"port": port, "ca": str(base / "ca.pem"), "other_ca": str(base / "other-ca.pem")}
    finally:
        proc.terminate()  # runuser passes SIGTERM on to postgres: a smart shutdown
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        server_log.close()


def _conn(port: object, host: str, **extra: str) -> object:
    import json

    from airflow.sdk import Connection

    return Connection(conn_id="exchange_db", conn_type="postgres", host=host, port=int(str(port)),
                      login="postgres", schema="postgres", extra=json.dumps(extra))


def test_verify_full_with_the_county_ca_opens_and_migrates_the_store(tls_pg: dict[str, object]) -> None:
    url = sqlalchemy_url(_conn(tls_pg["port"], "localhost", sslmode="verify-full", sslrootcert=str(tls_pg["ca"])))
    store = Store(url)
    try:
        assert current_revision(store.engine) == head_revision()
        with store.engine.connect() as conn:
            # The server's own view of this session: it is encrypted.
            assert conn.exec_driver_sql("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").scalar() is True
    finally:
        store.dispose()


def test_verify_full_refuses_a_server_certificate_of_another_ca(tls_pg: dict[str, object]) -> None:
    from sqlalchemy.exc import OperationalError

    url = sqlalchemy_url(_conn(tls_pg["port"], "localhost", sslmode="verify-full",
                               sslrootcert=str(tls_pg["other_ca"])))
    store = Store(url, migrate_now=False)
    try:
        with pytest.raises(OperationalError, match="certificate verify failed"):
            store.engine.connect()
    finally:
        store.dispose()


def test_verify_full_checks_the_host_name_and_verify_ca_does_not(tls_pg: dict[str, object]) -> None:
    """The certificate names localhost only: reached as 127.0.0.1, verify-full refuses it, verify-ca takes it."""
    from sqlalchemy.exc import OperationalError

    full = Store(sqlalchemy_url(_conn(tls_pg["port"], "127.0.0.1", sslmode="verify-full",
                                      sslrootcert=str(tls_pg["ca"]))), migrate_now=False)
    try:
        with pytest.raises(OperationalError, match="does not match host name"):
            full.engine.connect()
    finally:
        full.dispose()
    ca_only = Store(sqlalchemy_url(_conn(tls_pg["port"], "127.0.0.1", sslmode="verify-ca",
                                         sslrootcert=str(tls_pg["ca"]))), migrate_now=False)
    try:
        with ca_only.engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        ca_only.dispose()


def test_without_tls_the_server_refuses_the_login(tls_pg: dict[str, object]) -> None:
    from sqlalchemy.exc import OperationalError

    store = Store(sqlalchemy_url(_conn(tls_pg["port"], "127.0.0.1", sslmode="disable")), migrate_now=False)
    try:
        with pytest.raises(OperationalError, match="no encryption"):
            store.engine.connect()
    finally:
        store.dispose()
