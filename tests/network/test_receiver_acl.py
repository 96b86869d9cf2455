"""Who may send to ``radcurate receive``: its called AE title, the allow-list, loopback by default.

Driven by DCMTK's echoscu/storescu against the real command (both engines), and by
pynetdicom as the peer to read the exact A-ASSOCIATE-RJ fields.
"""

from __future__ import annotations

import inspect
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydicom import dcmread

from radcurate.catalog import open_catalog
from radcurate.cli.receive import receive
from radcurate.network.allowlist import (
    AllowEntry,
    AllowList,
    AllowListError,
    AssociationPolicy,
    is_loopback,
    read_allow_file,
)
from radcurate.network.receiver import Receiver
from tests.network.conftest import free_port, have_dcmtk

ENV = os.environ | {"TCP_NODELAY": "1"}
ENGINES = ["native", "pynetdicom"]
needs_dcmtk = pytest.mark.skipif(not have_dcmtk(), reason="DCMTK is not installed")


@contextmanager
def receiving(catalog_url: str, store: Path, port: int, *options: str) -> Iterator[list[str]]:
    """``radcurate receive`` in a child process; yields a list that gets its whole output."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from radcurate.cli import main; main()",
            "receive",
            *("--port", str(port), "--catalog", catalog_url, "--store", f"file://{store}"),
            *options,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    output: list[str] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "receiving" in line, line + process.stdout.read()
        output.append(line)
        yield output
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            rest, _ = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, _ = process.communicate()
        output.append(rest)


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    """One SQLite catalog: who may send does not depend on the catalog's backend."""
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


def dcmtk(
    tool: str, port: int, *options: str, files: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run echoscu or storescu against 127.0.0.1:``port``."""
    return subprocess.run(
        [f"/usr/bin/{tool}", *options, "127.0.0.1", str(port), *map(str, files)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=120,
    )


def _sops(catalog_url: str) -> set[str]:
    with open_catalog(catalog_url) as catalog:
        found: set[str] = set()
        for document in catalog.iter_search("*"):
            found.update(r.sop_uid for r in catalog.instances(str(document["SeriesInstanceUID"])))
        return found


def _wait_for(catalog_url: str, sop: str, seconds: float = 60) -> set[str]:
    deadline = time.monotonic() + seconds
    while True:
        found = _sops(catalog_url)
        if sop in found or time.monotonic() > deadline:
            return found
        time.sleep(0.3)


def _plain_files(files: list[Path], count: int) -> list[Path]:
    """``count`` uncompressed files of the demo archive."""
    plain = [
        p
        for p in files
        if str(dcmread(p, stop_before_pixels=True).file_meta.TransferSyntaxUID)
        == "1.2.840.10008.1.2.1"
    ]
    assert len(plain) >= count
    return plain[:count]


# -- through radcurate receive, with DCMTK --------------------------------------------------


@needs_dcmtk
@pytest.mark.parametrize("engine", ENGINES)
def test_allow_list_refuses_evil_and_lets_an_allowed_ae_store(
    catalog_url: str, archive_files: list[Path], tmp_path: Path, engine: str
) -> None:
    port = free_port()
    kept, refused = _plain_files(archive_files, 2)
    kept_sop = str(dcmread(kept, stop_before_pixels=True).SOPInstanceUID)
    refused_ds = dcmread(refused, stop_before_pixels=True)
    options = ("--engine", engine, "--allow", "CT1@127.0.0.1", "--allow", "PACS@10.255.0.1")
    with receiving(catalog_url, tmp_path / "store", port, *options) as output:
        assert "senders: CT1@127.0.0.1, PACS@10.255.0.1" in output[0]
        evil = dcmtk("echoscu", port, "-aet", "EVIL", "-aec", "RADCURATE")
        assert evil.returncode != 0
        assert "Calling AE Title Not Recognized" in evil.stderr + evil.stdout
        # the right AE title from a host that is not its entry's
        elsewhere = dcmtk("echoscu", port, "-aet", "PACS", "-aec", "RADCURATE")
        assert "Calling AE Title Not Recognized" in elsewhere.stderr + elsewhere.stdout
        sent_evil = dcmtk("storescu", port, "-aet", "EVIL", "-aec", "RADCURATE", files=(refused,))
        assert sent_evil.returncode != 0

        echo = dcmtk("echoscu", port, "-aet", "CT1", "-aec", "RADCURATE")
        assert echo.returncode == 0, echo.stderr
        sent = dcmtk("storescu", port, "-aet", "CT1", "-aec", "RADCURATE", files=(kept,))
        assert sent.returncode == 0, sent.stderr
        assert kept_sop in _wait_for(catalog_url, kept_sop)
    assert str(refused_ds.SOPInstanceUID) not in _sops(catalog_url)
    assert not list((tmp_path / "store").rglob(f"{refused_ds.SOPInstanceUID}.dcm"))
    log = "".join(output)
    assert "calling AE 'EVIL', called AE 'RADCURATE': calling AE title not recognised" in log
    assert "rejected an association from 127.0.0.1: calling AE 'PACS'" in log
    assert "3 associations rejected" in log  # the totals printed on stop
    assert str(refused_ds.PatientName) not in log and str(refused_ds.PatientID) not in log


@needs_dcmtk
@pytest.mark.parametrize("engine", ENGINES)
def test_a_called_ae_title_other_than_ours_is_refused(
    catalog_url: str, archive_files: list[Path], tmp_path: Path, engine: str
) -> None:
    port = free_port()
    (path,) = _plain_files(archive_files, 1)
    options = ("--engine", engine, "--ae-title", "ARCHIVE1")
    with receiving(catalog_url, tmp_path / "store", port, *options) as output:
        assert "receiving as ARCHIVE1 on 127.0.0.1" in output[0]
        for called in ("WRONG", "RADCURATE"):  # RADCURATE: the default, not ours here
            wrong = dcmtk("echoscu", port, "-aet", "ANYONE", "-aec", called)
            assert wrong.returncode != 0
            assert "Called AE Title Not Recognized" in wrong.stderr + wrong.stdout
        refused = dcmtk("storescu", port, "-aec", "WRONG", files=(path,))
        assert refused.returncode != 0
        # on loopback with no allow-list any calling AE is accepted
        right = dcmtk("echoscu", port, "-aet", "ANYONE", "-aec", "ARCHIVE1")
        assert right.returncode == 0, right.stderr
    log = "".join(output)
    assert "calling AE 'ANYONE', called AE 'WRONG': called AE title not recognised" in log
    assert "3 associations rejected" in log


@needs_dcmtk
def test_the_default_host_is_loopback_only(catalog_url: str, tmp_path: Path) -> None:
    port = free_port()
    with receiving(catalog_url, tmp_path / "store", port) as output:
        assert f"on 127.0.0.1:{port}" in output[0]
        assert "senders: any AE on this machine" in output[0]
        assert _listening_addresses(port) == {"127.0.0.1"}
        echo = dcmtk("echoscu", port, "-aec", "RADCURATE")
        assert echo.returncode == 0, echo.stderr
    assert inspect.signature(Receiver).parameters["host"].default == "127.0.0.1"
    assert _host_option_default() == "127.0.0.1"


def _listening_addresses(port: int) -> set[str]:
    """The local addresses listening on TCP ``port``, from /proc/net/tcp (IPv4, Linux)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, _, state = line.split()[1:4]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:
            found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def _host_option_default() -> object:
    option = next(p for p in receive.params if p.name == "host")
    return option.default


# -- the command's refusals (CliRunner) -----------------------------------------------------


def _invoke(tmp_path: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        receive,
        [
            *("--catalog", f"sqlite:///{tmp_path / 'c.sqlite'}"),
            *("--store", f"file://{tmp_path / 'store'}"),
            *("--port", str(free_port())),
            *options,
        ],
    )
    return result.exit_code, " ".join((result.output + result.stderr).split())  # unwrapped


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_listening_beyond_loopback_without_an_allow_list_refuses_to_start(
    tmp_path: Path, host: str
) -> None:
    code, output = _invoke(tmp_path, "--host", host)
    assert code == 2
    assert "refusing to listen on" in output and "no allow-list" in output
    assert "--allow CALLING_AE@HOST" in output and "--allow-file" in output
    assert "--allow '*@*'" in output
    assert not (tmp_path / "store").exists()  # refused before anything was touched


def test_a_bad_allow_entry_or_file_is_a_clear_error(tmp_path: Path) -> None:
    code, output = _invoke(tmp_path, "--host", "0.0.0.0", "--allow", "CT1")
    assert code == 2 and "'CT1' is not CALLING_AE@HOST" in output
    code, output = _invoke(tmp_path, "--allow", "CT1@no-such-host.invalid")
    assert code == 2 and "cannot resolve host 'no-such-host.invalid'" in output
    assert "give its IP address" in output
    code, output = _invoke(tmp_path, "--allow", "A_VERY_LONG_AE_TITLE@*")
    assert code == 2 and "at most 16" in output
    listed = tmp_path / "allowed.txt"
    listed.write_text("# modalities\nCT1@10.0.0.5\nCT2 10.0.0.6\n")
    code, output = _invoke(tmp_path, "--host", "0.0.0.0", "--allow-file", str(listed))
    assert code == 2 and "line 3" in output and "'CT2 10.0.0.6'" in output
    code, output = _invoke(tmp_path, "--allow-file", str(tmp_path / "missing.txt"))
    assert code == 2 and "cannot read the allow-list file" in output


def test_beyond_loopback_an_explicit_allow_list_is_enough(tmp_path: Path) -> None:
    for allow in (AllowList.parse(["*@*"]), AllowList.parse(["CT1@10.0.0.5"])):
        receiver = Receiver(
            f"sqlite:///{tmp_path / 'c.sqlite'}",
            f"file://{tmp_path / 'store'}",
            host="0.0.0.0",
            allow=allow,
        )
        assert receiver.policy.allow is allow
    with pytest.raises(ValueError, match="no allow-list"):
        Receiver(f"sqlite:///{tmp_path / 'c.sqlite'}", f"file://{tmp_path / 's'}", host="0.0.0.0")


# -- the A-ASSOCIATE-RJ fields, with pynetdicom as the peer ---------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_rejections_carry_the_standard_reasons_and_are_logged_and_counted(
    catalog_url: str, tmp_path: Path, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    from pynetdicom import AE
    from pynetdicom.sop_class import Verification

    receiver = Receiver(
        catalog_url,
        f"file://{tmp_path / 'store'}",
        port=0,
        engine=engine,
        called_ae_titles=frozenset({"PROJECT_A", "PROJECT_B"}),
        allow=AllowList.parse(["CT1@localhost", "*@10.255.0.0/16"]),
        spares=10,
    )
    receiver.start()
    try:
        port = receiver.bound_port

        def associate(calling: str, called: str) -> tuple[bool, tuple[int, int, int] | None]:
            ae = AE(ae_title=calling)
            ae.add_requested_context(Verification)
            assoc = ae.associate("127.0.0.1", port, ae_title=called)
            if assoc.is_established:
                status = assoc.send_c_echo()
                assoc.release()
                return status.Status == 0, None
            answer = assoc.acceptor.primitive
            assert assoc.is_rejected
            return False, (answer.result, answer.result_source, answer.diagnostic)

        with caplog.at_level(logging.INFO, logger="radcurate.network.receiver"):
            assert associate("CT1", "PROJECT_A") == (True, None)
            assert associate("CT1", "PROJECT_B") == (True, None)
            assert associate("CT1", "RADCURATE") == (False, (1, 1, 7))
            assert associate("EVIL", "PROJECT_A") == (False, (1, 1, 3))
        assert receiver.stats.rejected == 2
    finally:
        receiver.stop()
    messages = [r.getMessage() for r in caplog.records if r.name == "radcurate.network.receiver"]
    assert any(
        "from 127.0.0.1: calling AE 'CT1', called AE 'RADCURATE': called AE title not recognised"
        in m
        for m in messages
    ), messages
    assert any(
        "calling AE 'EVIL'" in m and "calling AE title not recognised" in m for m in messages
    )
    assert all(r.levelno >= logging.INFO for r in caplog.records if "rejected" in r.getMessage())


# -- the allow-list itself ------------------------------------------------------------------


def test_allow_entries_match_ae_and_host() -> None:
    allow = AllowList.parse(["CT1@10.0.0.5", "*@192.168.1.0/24", "MR1@*", "US1@localhost"])
    assert allow.allows("CT1", "10.0.0.5")
    assert allow.allows("CT1", "::ffff:10.0.0.5")  # an IPv4 peer on a dual-stack socket
    assert not allow.allows("CT1", "10.0.0.6")
    assert not allow.allows("CT2", "10.0.0.5")
    assert allow.allows("ANYTHING", "192.168.1.200")
    assert not allow.allows("ANYTHING", "192.168.2.1")
    assert allow.allows("MR1", "203.0.113.9")
    assert allow.allows("US1", "127.0.0.1")  # localhost resolved when the list was made
    assert not allow.allows("US1", "10.0.0.5")
    assert not allow.allows("CT1", "not an address")
    assert not allow.allows_anyone and AllowList.parse(["*@*"]).allows_anyone
    assert str(AllowEntry.parse(" CT1 @ 10.0.0.5 ")) == "CT1@10.0.0.5"
    with pytest.raises(AllowListError, match="not CALLING_AE@HOST"):
        AllowEntry.parse("@10.0.0.5")
    with pytest.raises(AllowListError, match="backslash"):
        AllowEntry.parse("A\\B@*")


def test_allow_file_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "allow.txt"
    path.write_text("# who may send\n\nCT1@10.0.0.5   # the CT\n  *@10.1.0.0/16\n")
    assert read_allow_file(path) == ["CT1@10.0.0.5", "*@10.1.0.0/16"]


def test_policy_and_loopback() -> None:
    policy = AssociationPolicy(frozenset({"RADCURATE"}))
    assert policy.check("ANY", "RADCURATE", "203.0.113.9") is None
    rejection = policy.check("ANY", "OTHER", "127.0.0.1")
    assert rejection is not None and (rejection.result, rejection.source) == (1, 1)
    assert rejection.diagnostic == 7
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("")
    with pytest.raises(ValueError, match="cannot resolve"):
        is_loopback("no-such-host.invalid")
