"""Write one rendered patient in the published layout: DICOM, PNG and PASCAL VOC XML.

Deterministic bytes: no timestamps, UIDs hashed from the patient ID and the seed,
PNGs written with fixed options, compressed pixels by fixed encoder plugins
(:data:`ENCODER_PLUGINS`; byte-identical for the same plugin versions).

DICOM pixels are stored in the series' transfer syntax (``SeriesPlan.transfer_syntax``):
uncompressed (explicit or implicit VR little endian), deflated (the whole data set, as pydicom writes it), or one lossless frame per
file encapsulated with a basic offset table (RLE Lossless, JPEG-LS Lossless, JPEG 2000
Lossless); decoding gives back the uncompressed pixels exactly.

DICOM geometry (LPS): ImageOrientationPatient ``[0, 1, 0, 0, 0, -1]`` (columns run
anterior -> posterior, rows superior -> inferior); ImagePositionPatient x is the
slice's lateral offset, ``+x`` = patient left; PixelSpacing is ``[row, column]`` mm.
"""

from __future__ import annotations

import io
import struct
import zlib
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element, write_file_meta_info
from pydicom.encaps import encapsulate
from pydicom.pixels import get_encoder
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    MRImageStorage,
    RLELossless,
    generate_uid,
)

from lssbench.domain import SEGMENTATION_CLASSES, voc_name
from lssbench.synth.plan import PatientPlan, SeriesPlan
from lssbench.synth.render import LabelledBox, RenderedPatient

PNG_ZLIB_LEVEL = 1
#: The pydicom encoder plugin used per compressed transfer syntax (fixed, for reproducible bytes).
ENCODER_PLUGINS = {RLELossless: "pylibjpeg", JPEGLSLossless: "pyjpegls", JPEG2000Lossless: "pylibjpeg"}
COLOURS = np.array([c.colour for c in sorted(SEGMENTATION_CLASSES, key=lambda c: c.index)], dtype=np.uint8)

DETECTION_IMAGES = Path("Foramina_Detection", "Images")
DETECTION_ANNOTATIONS = Path("Foramina_Detection", "Annotations")
MIDDLE_SLICES = Path("Segmentation", "Middle_Slice")
MASKS = Path("Segmentation", "Masks")


def series_folder(series: SeriesPlan, patient_id: str) -> Path:
    """``DICOM/<pid>`` or, for nested patients, ``DICOM/<pid>/ST000000-<study>/Sagittal``."""
    folder = Path("DICOM", patient_id)
    return folder / f"ST000000-{series.study}" / "Sagittal" if series.nested else folder


def _uid(*parts) -> str:
    return generate_uid(entropy_srcs=[str(p) for p in parts])


def _series_dataset(plan: PatientPlan) -> Dataset:
    """Header fields shared by every slice of the series."""
    series, pid = plan.series, plan.patient_id
    ds = Dataset()
    ds.SOPClassUID = MRImageStorage
    ds.StudyInstanceUID = _uid(*plan.entropy, pid, "study")
    ds.SeriesInstanceUID = _uid(*plan.entropy, pid, "series")
    ds.FrameOfReferenceUID = _uid(*plan.entropy, pid, "frame")
    ds.PatientID = pid
    ds.PatientName = pid
    ds.Modality = "MR"
    ds.SeriesDescription = "T2_TSE_SAG"
    ds.SeriesNumber = 2
    ds.ImageOrientationPatient = [0, 1, 0, 0, 0, -1]
    ds.PixelSpacing = [series.spacing_mm, series.spacing_mm]
    ds.SliceThickness = series.thickness_mm
    ds.SpacingBetweenSlices = series.thickness_mm + series.gap_mm
    ds.Rows = ds.Columns = series.dicom_size
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    return ds


def _encode(elements, implicit: bool = False) -> dict[int, bytes]:
    """Little endian bytes (explicit VR, else implicit) of each data element, keyed by tag."""
    encoded = {}
    for elem in elements:
        buffer = DicomBytesIO()
        buffer.is_little_endian, buffer.is_implicit_VR = True, implicit
        write_data_element(buffer, elem)
        encoded[int(elem.tag)] = buffer.getvalue()
    return encoded


def _slice_dataset(plan: PatientPlan, index: int, pixels: np.ndarray) -> Dataset:
    """Header fields that change from slice to slice, and the pixels."""
    series = plan.series
    ds = Dataset()
    ds.SOPInstanceUID = _uid(*plan.entropy, plan.patient_id, "slice", index)
    ds.InstanceNumber = index + 1
    x = round(float(series.z_mm[index]), 3)
    half = round(series.fov_mm / 2, 3)
    ds.ImagePositionPatient = [x, -half, half]
    ds.SliceLocation = x
    syntax = series.transfer_syntax
    if syntax in ENCODER_PLUGINS:
        ds.PixelData = encapsulate([encode_frame(pixels, syntax)])
        ds["PixelData"].VR = "OB"
        ds["PixelData"].is_undefined_length = True
    else:
        ds.PixelData = np.ascontiguousarray(pixels, dtype="<u2").tobytes()
        ds["PixelData"].VR = "OW"
    return ds


def encode_frame(pixels: np.ndarray, syntax: str) -> bytes:
    """One uint16 MONOCHROME2 frame losslessly encoded in compressed transfer syntax ``syntax``."""
    rows, columns = pixels.shape
    return get_encoder(syntax).encode(
        np.ascontiguousarray(pixels, dtype=np.uint16), encoding_plugin=ENCODER_PLUGINS[syntax],
        rows=rows, columns=columns, samples_per_pixel=1, number_of_frames=1, bits_allocated=16,
        bits_stored=16, pixel_representation=0, photometric_interpretation="MONOCHROME2",
    )


def _file_meta(ds: Dataset, syntax: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = syntax
    return meta


def _deflate(data: bytes) -> bytes:
    """Raw deflate of the data set, padded to even length (PS3.5 A.5, as pydicom writes it)."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    deflated = compressor.compress(data) + compressor.flush()
    return deflated + b"\0" * (len(deflated) % 2)


def dicom_bytes(plan: PatientPlan, shared: dict[int, bytes], index: int, pixels: np.ndarray) -> bytes:
    """One slice as a DICOM Part 10 file in the series' transfer syntax, byte-identical to
    ``pydicom.dcmwrite(..., enforce_file_format=True)`` of the merged dataset but without
    re-encoding the ``shared`` elements (from :func:`shared_elements`) for every slice."""
    syntax = plan.series.transfer_syntax
    ds = _slice_dataset(plan, index, pixels)
    meta = DicomBytesIO()
    meta.is_little_endian, meta.is_implicit_VR = True, False
    write_file_meta_info(meta, _file_meta(ds, syntax), enforce_standard=True)
    elements = {**shared, **_encode(ds.values(), syntax == ImplicitVRLittleEndian)}
    body = b"".join(elements[tag] for tag in sorted(elements))
    if syntax == DeflatedExplicitVRLittleEndian:
        body = _deflate(body)
    return b"\0" * 128 + b"DICM" + meta.getvalue() + body


def shared_elements(plan: PatientPlan) -> dict[int, bytes]:
    return _encode(_series_dataset(plan).values(), plan.series.transfer_syntax == ImplicitVRLittleEndian)


def full_dataset(plan: PatientPlan, index: int, pixels: np.ndarray) -> Dataset:
    """The same slice as a pydicom Dataset (used to check :func:`dicom_bytes`)."""
    ds = _series_dataset(plan)
    ds.update(_slice_dataset(plan, index, pixels))
    ds.file_meta = _file_meta(ds, plan.series.transfer_syntax)
    return ds


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(array: np.ndarray) -> bytes:
    """Minimal 8-bit PNG (grey (H, W) or RGB (H, W, 3)): every row uses the Sub filter,
    zlib level :data:`PNG_ZLIB_LEVEL`; no time or text chunks, so the bytes are deterministic."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    rows = array.reshape(height, width * channels)
    filtered = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    filtered[:, 0] = 1  # filter type Sub: byte minus the byte one pixel to the left
    filtered[:, 1 : channels + 1] = rows[:, :channels]
    np.subtract(rows[:, channels:], rows[:, :-channels], out=filtered[:, channels + 1 :])
    header = struct.pack(">IIBBBBB", width, height, 8, 0 if channels == 1 else 2, 0, 0, 0)
    idat = zlib.compress(filtered.tobytes(), PNG_ZLIB_LEVEL)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def png_bytes(array: np.ndarray, size: int | None = None, resample=Image.BILINEAR) -> bytes:
    """PNG of a uint8 grey or RGB array, first resized by Pillow to ``size`` x ``size`` if given."""
    if size is not None and array.shape[:2] != (size, size):
        array = np.asarray(Image.fromarray(array).resize((size, size), resample))
    return encode_png(array)


def to_uint8(pixels: np.ndarray, white: float) -> np.ndarray:
    return np.clip(pixels.astype(np.float32) * (255.0 / white) + 0.5, 0, 255).astype(np.uint8)


def voc_xml(patient_id: str, slice_name: str, size: int, boxes: list[LabelledBox]) -> bytes:
    """PASCAL VOC annotation (LabelImg style) with the dataset's extra ``<level>`` tag."""
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "Sagittal"
    ET.SubElement(root, "filename").text = f"{slice_name}.png"
    ET.SubElement(root, "path").text = f"/data/{patient_id}/Sagittal/{slice_name}.png"
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "Unknown"
    size_el = ET.SubElement(root, "size")
    for tag, value in (("width", size), ("height", size), ("depth", 1)):
        ET.SubElement(size_el, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for box in boxes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = voc_name(box.side, box.grade)
        ET.SubElement(obj, "level").text = box.level
        for tag, value in (("pose", "Unspecified"), ("truncated", "0"), ("difficult", "0")):
            ET.SubElement(obj, tag).text = value
        bndbox = ET.SubElement(obj, "bndbox")
        for tag, value in zip(("xmin", "ymin", "xmax", "ymax"), box.box):
            ET.SubElement(bndbox, tag).text = str(value)
    ET.indent(root, space="\t")
    return ET.tostring(root, encoding="utf-8") + b"\n"


def _write(root: Path, relative: Path, data: bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def write_patient(root: Path, plan: PatientPlan, rendered: RenderedPatient) -> None:
    """Every file of one patient under ``root`` (the dataset folder being built)."""
    series, pid = plan.series, plan.patient_id
    shared = shared_elements(plan)
    folder = series_folder(series, pid)
    for index, pixels in enumerate(rendered.slices):
        name = series.slice_name(index)
        _write(root, folder / f"{name}{series.suffix}", dicom_bytes(plan, shared, index, pixels))
    for index, boxes in sorted(rendered.boxes.items()):
        name = series.slice_name(index)
        image = png_bytes(to_uint8(rendered.slices[index], rendered.png_white), series.png_size)
        _write(root, DETECTION_IMAGES / f"{pid}_{name}.png", image)
        _write(root, DETECTION_ANNOTATIONS / f"{pid}_{name}.xml", voc_xml(pid, name, series.png_size, boxes))
    middle = series.slice_name(series.middle)
    image = png_bytes(to_uint8(rendered.slices[series.middle], rendered.png_white), series.png_size)
    _write(root, MIDDLE_SLICES / f"{pid}_{middle}.png", image)
    _write(root, MASKS / f"{pid}_{middle}.png", png_bytes(COLOURS[rendered.classes], series.png_size, Image.NEAREST))
