"""DICOM networking: a C-STORE receiver and pull-ingest from a PACS over DICOMweb."""
