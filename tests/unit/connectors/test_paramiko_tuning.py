"""Every paramiko internal that connectors/paramiko_tuning.py relies on is still there, in the same shape.

These fail when a paramiko upgrade renames or reshapes one, before a night's transfer does. The
behaviour itself (GCM chosen, large reads, flat memory while prefetching) is shown against the
real sshd in tests/integration/test_sshd_sftp.py.
"""

from __future__ import annotations

import inspect

import paramiko

from connectors import paramiko_tuning as tuning


def _params(fn: object) -> list[str]:
    return list(inspect.signature(fn).parameters)  # type: ignore[arg-type]


def test_the_transport_cipher_preference_is_a_tuple_paramiko_reads() -> None:
    assert isinstance(paramiko.Transport._preferred_ciphers, tuple)
    assert "_preferred_ciphers" in inspect.getsource(paramiko.Transport._negotiate_keys) + inspect.getsource(
        paramiko.Transport)
    assert tuning.Transport._preferred_ciphers[:2] == ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com")
    assert set(tuning.Transport._preferred_ciphers) == set(paramiko.Transport._preferred_ciphers)
    assert "transport_factory" in _params(paramiko.SSHClient.connect)


def test_the_sftp_client_internals_keep_their_shape() -> None:
    overridden = paramiko.SFTPClient._send_version
    assert _params(overridden) == ["self"]
    assert "_send_version" in inspect.getsource(paramiko.SFTPClient.__init__)  # still called at start-up
    assert _params(paramiko.SFTPClient._request)[:2] == ["self", "t"]
    for name in ("_send_packet", "_read_packet"):
        assert callable(getattr(paramiko.SFTPClient, name)), name
    for name in ("CMD_INIT", "CMD_VERSION", "CMD_EXTENDED", "CMD_EXTENDED_REPLY"):
        assert isinstance(getattr(paramiko.sftp, name), int), name


def test_the_prefetch_internals_keep_their_shape() -> None:
    assert _params(paramiko.SFTPFile._start_prefetch) == ["self", "chunks", "max_concurrent_requests"]
    assert _params(paramiko.SFTPFile._async_response) == ["self", "t", "msg", "num"]
    source = inspect.getsource(paramiko.SFTPFile)
    # The flag our override sets is the one paramiko's read loop looks at.
    assert "self._prefetch_done" in source and "_prefetch_done" in inspect.getsource(paramiko.SFTPFile._read_prefetch)
    assert "MAX_REQUEST_SIZE" in source
    assert issubclass(tuning.StreamingFile, paramiko.SFTPFile)


def test_the_tuned_classes_override_exactly_what_the_module_says() -> None:
    assert set(vars(tuning.SftpClient)) >= {"_send_version", "max_read"}
    assert set(vars(tuning.StreamingFile)) >= {"_start_prefetch", "_async_response"}
