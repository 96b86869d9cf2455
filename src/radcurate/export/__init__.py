"""Export of frozen dataset versions into ML layouts (nnU-Net, MONAI, NIfTI, DICOM copy).

See docs/export.md.
"""
