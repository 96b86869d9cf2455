"""Imaging: stored instances as pixel arrays, volumes and label volumes; nothing drawn.

The layer under the pipelines (render, analyze, export) that turns what storage
holds into numbers: it imports only ``radcurate.dicom`` (and ``radcurate.storage``
to fetch an instance kept in a PACS), and finds referenced series through the
small :class:`~radcurate.imaging.series.SeriesLookup` Protocol a catalog satisfies.

Modules
-------
series
    :class:`SeriesInput` (a series' document and instance rows) and ``load_series``.
frames
    Reading instances; decoding one frame (JPEG 2000 also at reduced resolution);
    per-frame attributes; geometric order of instances and frames.
pixels
    Stored values to 8-bit display values (Modality LUT, VOI, MONOCHROME1, colour).
slices
    A series' slices in geometric order; one slice decoded for display.
reference
    The series a SEG or RTSTRUCT references, and the slice a point lies on.
volume
    Voxel grids (RAS affine), float volumes after rescale, streamed slice by slice.
seg
    DICOM-SEG frames, masks, and label volumes on the referenced grid.
rtstruct
    RTSTRUCT contours and their projection onto an image plane.
reformat
    Geometry of sagittal/coronal/axial reformats.
nifti
    NIfTI-1 files and streams of volumes.
errors
    :class:`UndecodableError`.

Nothing is imported here: each module pulls numpy and pydicom on first use.
"""
