"""Analysis pipelines: annotators and QC checks, registered as workflows (docs/workflows.md)."""
