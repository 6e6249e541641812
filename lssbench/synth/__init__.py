"""Synthetic LSS-MRI-AISSLab dataset in the exact published layout.

``synthesize(out, n_patients=DEFAULT_PATIENTS, seed=0)`` writes DICOM series, annotated
slice PNGs with PASCAL VOC boxes, and middle-slice images with colour masks. See
``core.CONVENTIONS`` for the geometry conventions (``+x`` = patient left).
"""

from lssbench.synth.core import CONVENTIONS, DEFAULT_PATIENTS, MARKER, synthesize

__all__ = ["CONVENTIONS", "DEFAULT_PATIENTS", "MARKER", "synthesize"]
