"""DICOMweb: QIDO-RS search, WADO-RS retrieve and STOW-RS store over the catalog.

The HTTP routes live in :mod:`radcurate.server.routes.dicomweb`; this package
holds the protocol logic (DICOM JSON, multipart bodies, matching, transfer
syntax negotiation) so it can be tested and reused without a server.
"""
