"""Small fixture files in the published dataset layout: DICOM headers, PNGs, VOC XML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from lssbench.domain import SEGMENTATION_CLASSES

SAGITTAL = [0, 1, 0, 0, 0, -1]  # ImageOrientationPatient: rows along y, columns along -z
AXIAL = [1, 0, 0, 0, 1, 0]


def write_dicom(
    path: Path,
    *,
    instance: int,
    patient_id: str = "",
    rows: int = 8,
    columns: int = 8,
    spacing=(0.5, 0.5),
    x: float = 0.0,
    series_uid: str = "1.2.3.4",
    orientation=SAGITTAL,
    value: int | None = None,
    preamble: bool = True,
) -> Path:
    """One MR slice; pixels all ``value`` (default ``instance``); ``preamble=False``: bare dataset."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = pydicom.Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientID = patient_id
    ds.SeriesInstanceUID = series_uid
    ds.InstanceNumber = instance
    ds.Rows, ds.Columns = rows, columns
    ds.PixelSpacing = list(spacing)
    ds.SliceThickness = 4.0
    ds.ImagePositionPatient = [x, 0.0, 0.0]
    ds.ImageOrientationPatient = orientation
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.PixelData = np.full((rows, columns), instance if value is None else value, np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        del ds.file_meta
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True)
    return path


def write_series(
    folder: Path, n: int = 3, *, suffix: str = ".dcm", x0: float = -10.0, dx: float = 10.0, **kw
) -> list[Path]:
    """``n`` slices IM000001.. in ``folder``, written in reverse to test sorting by InstanceNumber."""
    return [
        write_dicom(folder / f"IM{i:06d}{suffix}", instance=i, x=x0 + (i - 1) * dx, **kw)
        for i in range(n, 0, -1)
    ]


def write_png(
    path: Path, width: int = 64, height: int = 64, *, array=None, image: Image.Image | None = None
) -> Path:
    """A PNG of ``image``, else of ``array``, else a width x height 8-bit gradient."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if image is None:
        if array is None:
            array = (np.arange(width * height) % 251).astype(np.uint8).reshape(height, width)
        image = Image.fromarray(np.asarray(array))
    image.save(path)
    return path


def voc_object(name="RFS2", level="L3-L4", box=(10, 12, 30, 40)) -> str:
    parts = [
        f"<name>{name}</name>" if name is not None else "",
        f"<level>{level}</level>" if level is not None else "",
    ]
    if box is not None:
        parts.append(
            "<bndbox>"
            + "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box))
            + "</bndbox>"
        )
    return "<object>" + "".join(parts) + "</object>"


def voc_xml(*objects: str, folder="Sagittal", filename="IM000002.png", path=None, size=(64, 64)) -> str:
    head = f"<folder>{folder}</folder>" if folder is not None else ""
    head += f"<filename>{filename}</filename>" if filename is not None else ""
    head += f"<path>{path}</path>" if path is not None else ""
    size_xml = (
        f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>1</depth></size>" if size else ""
    )
    return f"<annotation>{head}{size_xml}{''.join(objects)}</annotation>"


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def colour_mask(indices: np.ndarray) -> np.ndarray:
    """(H, W) class indices -> (H, W, 3) uint8 domain colours."""
    palette = np.array([c.colour for c in SEGMENTATION_CLASSES], np.uint8)
    return palette[indices]


def sample_indices(width: int = 64, height: int = 64) -> np.ndarray:
    """A class-index mask using every class, background included."""
    mask = np.zeros((height, width), np.uint8)
    for k in range(1, 6):
        mask[:, k * width // 6 : (k + 1) * width // 6] = k
    return mask


def build_dataset(
    root: Path, patients=("PATIENT10001", "PATIENT10002"), *, size=(64, 64), masks=True
) -> Path:
    """A small valid dataset: 3-slice series, one annotated slice each, optional segmentation."""
    width, height = size
    for pid in patients:
        write_series(root / "DICOM" / pid, patient_id=pid)
        write_png(root / "Foramina_Detection/Images" / f"{pid}_IM000002.png", width, height)
        xml = voc_xml(voc_object("RFS2", "L3-L4"), voc_object("LFS0", "L4-L5", (5, 5, 25, 25)), size=size)
        write_text(root / "Foramina_Detection/Annotations" / f"{pid}_IM000002.xml", xml)
        if masks:
            write_png(root / "Segmentation/Middle_Slice" / f"{pid}_IM000002.png", width, height)
            write_png(
                root / "Segmentation/Masks" / f"{pid}_IM000002.png",
                array=colour_mask(sample_indices(width, height)),
            )
    return root
