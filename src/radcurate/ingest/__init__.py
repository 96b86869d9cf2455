"""Ingest: find DICOM files, read their headers in parallel, write them to the catalog."""

from radcurate.ingest.pipeline import IngestSummary, ingest

__all__ = ["IngestSummary", "ingest"]
