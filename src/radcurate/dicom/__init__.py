"""DICOM knowledge: headers to documents, value typing by VR, geometry."""
