"""Networking benchmark: C-STORE into ``radcurate receive`` and into Orthanc; QIDO study search.

One command::

    .venv/bin/python bench/network.py                  # 5,000 instances, 100,000 studies
    .venv/bin/python bench/network.py --smoke          # 200 instances, 1,000 studies

C-STORE: the same synthetic instances (pydicom's ``CT_small.dcm`` with new UIDs,
100 per series) are sent by DCMTK's ``/usr/bin/storescu`` (one association,
``TCP_NODELAY=1`` on both sides) to a fresh ``radcurate receive`` (the default:
native engine, fsync of every file and folder; without fsync; the pynetdicom
engine) and to a fresh Orthanc, with its default ``SyncStorageArea`` true
(fsync of every file) and with false, all storing under the same temporary
folder. Like is compared with like: radcurate's default against Orthanc's
default, ``--no-fsync`` against ``SyncStorageArea`` false. The rate is instances
over storescu's wall time (every instance acknowledged); for radcurate the time
until all are in the catalog is reported too. Each variant runs ``--rounds``
times, interleaved; medians are reported. Every run starts after ``sync``, so
no run pays for writing out what the one before left in the page cache.

QIDO: a synthetic SQLite catalog of N studies (one series each, OHIF-like
attributes) is searched in process with the queries a study list sends; the
median over repeats is reported per query.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from orthanc import CLIENT_AET, free_port, running_orthanc

ROOT = Path(__file__).resolve().parent.parent
STORESCU = Path("/usr/bin/storescu")
ENV = os.environ | {"TCP_NODELAY": "1"}
TARGET_RATIO = 2.0
TARGET_QIDO_MS = 100.0


def make_instances(folder: Path, count: int) -> list[Path]:
    """``count`` small CT instances, 100 per series, 5 series per study."""
    from pydicom import dcmread
    from pydicom.data import get_testdata_file
    from pydicom.uid import generate_uid

    template = dcmread(str(get_testdata_file("CT_small.dcm")))
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    study = series = ""
    for index in range(count):
        if index % 500 == 0:
            study = generate_uid()
        if index % 100 == 0:
            series = generate_uid()
        template.StudyInstanceUID = study
        template.SeriesInstanceUID = series
        template.SOPInstanceUID = generate_uid()
        template.file_meta.MediaStorageSOPInstanceUID = template.SOPInstanceUID
        template.InstanceNumber = index % 100 + 1
        path = folder / f"{index:06d}.dcm"
        template.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def _storescu(port: int, aet: str, files: Path, calling: str | None = None) -> float:
    command = [str(STORESCU), "-aec", aet, "+sd", "-R"]
    if calling:
        command += ["-aet", calling]
    # start every run with no dirty pages: else one receiver's fsyncs pay for writing out
    # what the previous one left in the page cache (ext4 commits flush data with them)
    os.sync()
    started = time.monotonic()
    subprocess.run(
        [*command, "127.0.0.1", str(port), str(files)],
        check=True,
        env=ENV,
        capture_output=True,
        timeout=3600,
    )
    return time.monotonic() - started


def bench_receive(files: Path, count: int, work: Path, *flags: str) -> dict[str, float]:
    """storescu into ``radcurate receive``; rate and time until all are indexed."""
    sys.path.insert(0, str(ROOT / "src"))
    from radcurate.catalog import open_catalog

    port = free_port()
    work.mkdir(parents=True, exist_ok=True)
    name = "receive" + "".join(f.strip("-") for f in flags)
    catalog_url = f"sqlite:///{work / name}.sqlite"
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from radcurate.cli import main; main()",
            "receive",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
            "--catalog",
            catalog_url,
            "--store",
            f"file://{work / name}",
            *flags,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=ENV,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "receiving" not in line:
            raise RuntimeError(f"radcurate receive did not start: {line}")
        started = time.monotonic()
        seconds = _storescu(port, "RADCURATE", files)
        with open_catalog(catalog_url) as catalog:
            while catalog.info().instances < count:
                if time.monotonic() - started > 600:
                    raise RuntimeError("the receiver did not index every instance in 600 s")
                time.sleep(0.05)
        indexed = time.monotonic() - started
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    return {"seconds": seconds, "rate": count / seconds, "indexed_seconds": indexed}


def bench_orthanc(files: Path, count: int, sync: bool = False) -> dict[str, float]:
    """storescu into a fresh Orthanc (``sync``: its default ``SyncStorageArea`` true)."""
    with running_orthanc(extra_config={"SyncStorageArea": sync}) as pacs:
        seconds = _storescu(pacs.dicom_port, pacs.aet, files, CLIENT_AET)
        stored = pacs.instance_count()
    if stored != count:
        raise RuntimeError(f"Orthanc holds {stored} instances, {count} were sent")
    return {"seconds": seconds, "rate": count / seconds}


def synthetic_catalog(url: str, studies: int) -> None:
    """A catalog of ``studies`` studies with one series each."""
    sys.path.insert(0, str(ROOT / "src"))
    from radcurate.catalog import open_catalog
    from radcurate.catalog.base import IngestBatch, SeriesHeader
    from radcurate.dicom.instance import InstanceRecord
    from radcurate.ingest.pipeline import finalize_dirty

    names = ["Smith", "Jones", "Okafor", "Garcia", "Nguyen", "Müller", "Rossi", "Kowalski"]
    modalities = ["CT", "MR", "CR", "US", "PT", "DX"]
    with open_catalog(url) as catalog:
        batch = IngestBatch()
        for n in range(studies):
            study, series = f"1.2.826.0.1.{n + 1}", f"1.2.826.0.2.{n + 1}"
            fields: dict[str, Any] = {
                "StudyInstanceUID": study,
                "SeriesInstanceUID": series,
                "PatientName": f"{names[n % len(names)]}^P{n % 997}",
                "PatientID": f"PID{n % 50000:06d}",
                "StudyDate": f"{2000 + n % 25}-{1 + n % 12:02d}-{1 + n % 28:02d}",
                "StudyTime": "10:00:00",
                "AccessionNumber": f"ACC{n:08d}",
                "StudyDescription": f"Study {n % 300}",
                "Modality": modalities[n % len(modalities)],
                "SeriesNumber": 1,
            }
            types: dict[str, Any] = {}
            batch.headers.append(
                SeriesHeader(
                    series, study, fields["PatientID"], fields["Modality"], f"/x/{n}", fields, types
                )
            )
            batch.instances.append(
                InstanceRecord(
                    location=f"/x/{n}",
                    source=f"/x/{n}",
                    size=1,
                    mtime_ns=1,
                    study_uid=study,
                    series_uid=series,
                    sop_uid=f"1.2.826.0.3.{n + 1}",
                )
            )
            if len(batch.instances) >= 5000:
                catalog.write_batch(batch)
                batch = IngestBatch()
        if batch.instances:
            catalog.write_batch(batch)
        finalize_dirty(catalog)


def bench_qido(url: str, repeats: int) -> dict[str, float]:
    """Median milliseconds of study-list queries (as OHIF sends them) in process."""
    from radcurate.catalog import open_catalog
    from radcurate.dicomweb import qido

    queries = {
        "all, limit 101": [("limit", "101"), ("offset", "0")],
        "PatientName=*oka*": [("PatientName", "*oka*"), ("limit", "101")],
        "StudyDate range": [("StudyDate", "20100101-20101231"), ("limit", "101")],
        "ModalitiesInStudy=MR": [("ModalitiesInStudy", "MR"), ("limit", "101")],
        "PatientID exact": [("PatientID", "PID001234")],
        "PatientName=*zzz* (no match: full scan)": [("PatientName", "*zzz*"), ("limit", "101")],
    }
    out = {}
    with open_catalog(url) as catalog:
        for name, params in queries.items():
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                query = qido.parse_query("study", params)
                qido.search(catalog, query, "http://localhost/dicomweb")
                times.append((time.perf_counter() - started) * 1000)
            out[name] = statistics.median(times)
        times = []
        for n in range(repeats):
            started = time.perf_counter()
            query = qido.parse_query("series", [], study_uid=f"1.2.826.0.1.{n * 7919 + 1}")
            qido.search(catalog, query, "http://localhost/dicomweb")
            times.append((time.perf_counter() - started) * 1000)
        out["/studies/{uid}/series"] = statistics.median(times)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=5000)
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3, help="C-STORE runs per variant")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (< 60 s)")
    parser.add_argument("--skip-store", action="store_true", help="QIDO only")
    parser.add_argument("--skip-qido", action="store_true", help="C-STORE only")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.instances, args.studies, args.repeats, args.rounds = 200, 1000, 3, 1
    figures: dict[str, Any] = {"instances": args.instances, "studies": args.studies}
    with tempfile.TemporaryDirectory(prefix="radcurate-bench-network-") as tmp:
        work = Path(tmp)
        if not args.skip_store:
            files = work / "files"
            make_instances(files, args.instances)
            variants: dict[str, tuple[str, ...]] = {
                "receive": (),
                "receive_no_fsync": ("--no-fsync",),
                "receive_pynetdicom": ("--engine", "pynetdicom"),
            }
            peers = {"orthanc_sync": True, "orthanc": False}
            runs: dict[str, list[dict[str, float]]] = {k: [] for k in [*variants, *peers]}
            for round_number in range(args.rounds):
                for key, flags in variants.items():
                    runs[key].append(
                        bench_receive(files, args.instances, work / f"r{round_number}", *flags)
                    )
                for key, sync in peers.items():
                    runs[key].append(bench_orthanc(files, args.instances, sync))
            for key, results in runs.items():
                figures[key] = {
                    name: statistics.median(r[name] for r in results) for name in results[0]
                }
                figures[key]["rates"] = [round(r["rate"], 1) for r in results]
            #: each radcurate variant against the Orthanc configuration of the same durability
            pairs = {
                "receive": "orthanc_sync",
                "receive_no_fsync": "orthanc",
                "receive_pynetdicom": "orthanc_sync",
            }
            for key, peer in pairs.items():
                ratio = figures[key]["rate"] / figures[peer]["rate"]
                figures[f"ratio_{key}"] = ratio
                print(
                    f"C-STORE {args.instances} instances: radcurate {key} "
                    f"{figures[key]['rate']:.0f}/s (all indexed after "
                    f"{figures[key]['indexed_seconds']:.1f} s), {peer} "
                    f"{figures[peer]['rate']:.0f}/s, ratio {ratio:.2f} "
                    f"(target >= {TARGET_RATIO}; runs {figures[key]['rates']} vs "
                    f"{figures[peer]['rates']})"
                )
            unsynced = figures["receive"]["rate"] / figures["orthanc"]["rate"]
            figures["ratio_receive_vs_orthanc_no_sync"] = unsynced
            print(f"radcurate receive (fsync) against Orthanc without fsync: {unsynced:.2f}")
        if not args.skip_qido:
            url = f"sqlite:///{work / 'qido.sqlite'}"
            started = time.monotonic()
            synthetic_catalog(url, args.studies)
            figures["catalog_build_seconds"] = time.monotonic() - started
            figures["qido_ms"] = bench_qido(url, args.repeats)
            for name, ms in figures["qido_ms"].items():
                print(f"QIDO over {args.studies} studies, {name}: {ms:.1f} ms median")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
