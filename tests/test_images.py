"""DICOM pixels in every common transfer syntax, and a clear message for the ones nobody decodes."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner
from pydicom.data import get_testdata_file
from pydicom.uid import UID

from lssbench.cli import main
from lssbench.dataset import check_pixels, images, read_dataset, read_dicom_slice, transfer_syntax_label
from lssbench.problems import DataError

MPEG2 = "1.2.840.10008.1.2.4.100"

#: pydicom's bundled copies of one 64x64 MR slice, each in another transfer syntax (all lossless).
MR_SMALL = {
    "MR_small.dcm": pydicom.uid.ExplicitVRLittleEndian,
    "MR_small_implicit.dcm": pydicom.uid.ImplicitVRLittleEndian,
    "MR_small_bigendian.dcm": pydicom.uid.ExplicitVRBigEndian,
    "MR_small_RLE.dcm": pydicom.uid.RLELossless,
    "MR_small_jpeg_ls_lossless.dcm": pydicom.uid.JPEGLSLossless,
    "MR_small_jp2klossless.dcm": pydicom.uid.JPEG2000Lossless,
}


def _reference() -> np.ndarray:
    """MR_small's pixels, read without lssbench and without any decoder plugin."""
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    raw = np.frombuffer(ds.PixelData, dtype="<i2" if ds.PixelRepresentation else "<u2")
    return raw.reshape(ds.Rows, ds.Columns).astype(np.float32)


@pytest.mark.parametrize("name", sorted(MR_SMALL))
def test_lossless_syntaxes_decode_to_the_same_pixels(name):
    path = get_testdata_file(name)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == MR_SMALL[name]
    assert np.array_equal(read_dicom_slice(path), _reference())


@pytest.mark.parametrize("name, syntax, shape", [
    ("image_dfl.dcm", pydicom.uid.DeflatedExplicitVRLittleEndian, (512, 512)),
    ("JPGExtended.dcm", pydicom.uid.JPEGExtended12Bit, (1024, 256)),
    ("JPEG2000.dcm", pydicom.uid.JPEG2000, (1024, 256)),
])
def test_deflate_jpeg_and_jpeg2000_decode(name, syntax, shape):
    path = get_testdata_file(name)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == syntax
    pixels = read_dicom_slice(path)
    assert pixels.shape == shape and pixels.dtype == np.float32 and pixels.std() > 0


@pytest.mark.parametrize("syntax, predictor", [(pydicom.uid.JPEGLosslessSV1, 1), (pydicom.uid.JPEGLossless, 7)])
def test_jpeg_lossless_decodes_to_the_same_pixels(tmp_path, syntax, predictor):
    """JPEG Lossless (process 14), the commonest clinical lossless syntax: encoded by imagecodecs
    (libjpeg-turbo), an encoder independent of the decoders lssbench installs."""
    imagecodecs = pytest.importorskip("imagecodecs")
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    frame = imagecodecs.jpeg8_encode(_reference().astype(np.uint16), lossless=True, predictor=predictor,
                                     bitspersample=16)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.PixelRepresentation = 0
    ds.PixelData = pydicom.encaps.encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds.save_as(tmp_path / "ll.dcm")
    assert np.array_equal(read_dicom_slice(tmp_path / "ll.dcm"), _reference())


def test_every_common_syntax_has_an_installed_decoder():
    for uid in (*MR_SMALL.values(), pydicom.uid.DeflatedExplicitVRLittleEndian, pydicom.uid.JPEGBaseline8Bit,
                pydicom.uid.JPEGExtended12Bit, pydicom.uid.JPEGLossless, pydicom.uid.JPEGLosslessSV1,
                pydicom.uid.JPEGLSNearLossless, pydicom.uid.JPEG2000, pydicom.uid.HTJ2KLossless,
                pydicom.uid.HTJ2K):
        assert images.undecodable_reason(uid) is None, UID(uid).name


def _with_syntax(tmp_path: Path, uid: str) -> Path:
    """MR_small's compressed copy relabelled with transfer syntax ``uid``."""
    ds = pydicom.dcmread(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    ds.file_meta.TransferSyntaxUID = uid
    path = tmp_path / "IM000001.dcm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(path, enforce_file_format=False)
    return path


def test_a_syntax_pydicom_cannot_decode_names_the_syntax(tmp_path):
    path = _with_syntax(tmp_path, MPEG2)
    with pytest.raises(DataError) as caught:
        read_dicom_slice(path)
    assert caught.value.problems[0].message == (
        "pixels are stored as MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100), which pydicom has no "
        "decoder for; convert the series to an uncompressed or lossless transfer syntax first "
        "(e.g. `gdcmconv --raw` or dcmtk's `dcmdjpeg`)")
    assert transfer_syntax_label("1.2.3.4.5") == "unknown transfer syntax 1.2.3.4.5"
    with pytest.raises(DataError, match="pixels are stored as unknown transfer syntax 1.2.3.4.5, which pydicom"):
        read_dicom_slice(_with_syntax(tmp_path, "1.2.3.4.5"))


def test_a_syntax_whose_plugins_are_missing_says_what_to_install(monkeypatch, tmp_path):
    class Unavailable:
        is_available = False
        missing_dependencies = ["pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1",
                                "gdcm - requires gdcm>=3.0.10"]

    monkeypatch.setattr(images, "get_decoder", lambda uid: Unavailable())
    with pytest.raises(DataError) as caught:
        read_dicom_slice(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    assert caught.value.problems[0].message == (
        "pixels are stored as JPEG-LS Lossless Image Compression (1.2.840.10008.1.2.4.80) and no installed "
        "decoder reads it; pydicom needs one of: pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-libjpeg>=2.1; "
        "gdcm - requires gdcm>=3.0.10 (lssbench depends on pylibjpeg, pylibjpeg-libjpeg, pylibjpeg-openjpeg, "
        "pylibjpeg-rle, pyjpegls; reinstall it with its dependencies)")


def test_corrupt_compressed_pixels_name_the_syntax(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small_jpeg_ls_lossless.dcm"))
    ds.PixelData = pydicom.encaps.encapsulate([b"\xff\xd8" + b"\0" * 64])
    path = tmp_path / "broken.dcm"
    ds.save_as(path)
    with pytest.raises(DataError, match=r"broken.dcm: cannot decode DICOM pixels \(JPEG-LS Lossless Image "
                                        r"Compression \(1.2.840.10008.1.2.4.80\)\)"):
        read_dicom_slice(path)


def test_a_file_without_pixels_is_named(tmp_path):
    ds = pydicom.dcmread(get_testdata_file("MR_small.dcm"))
    del ds.PixelData
    ds.save_as(tmp_path / "empty.dcm")
    with pytest.raises(DataError, match=r"empty.dcm: no pixel data \(7FE0,0010\) in this DICOM file"):
        read_dicom_slice(tmp_path / "empty.dcm")


@pytest.fixture()
def broken_copy(synthetic_dataset_dir, tmp_path):
    """The small synthetic dataset with one slice relabelled MPEG2 (headers still read fine)."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_dataset_dir, data)
    dataset = read_dataset(data)
    pid = sorted(dataset.series)[3]
    target = dataset.series[pid].files[1]
    ds = pydicom.dcmread(target)
    ds.file_meta.TransferSyntaxUID = MPEG2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.save_as(target, enforce_file_format=False)
    return data, target.relative_to(data).as_posix()


def test_check_pixels_first_slice_or_every_slice(synthetic_dataset, broken_copy):
    count, problems = check_pixels(synthetic_dataset, every_slice=True, workers=1)
    assert count == sum(len(s.files) for s in synthetic_dataset.series.values()) and problems == []
    data, relative = broken_copy
    dataset = read_dataset(data)
    assert check_pixels(dataset, workers=1) == (len(dataset.series), [])  # slice 2 is not decoded
    count, problems = check_pixels(dataset, every_slice=True, workers=2)
    assert [(p.file, p.message) for p in problems] == [(relative, images.undecodable_reason(MPEG2))]


def test_check_data_reports_syntaxes_and_undecodable_slices_with_exit_1(synthetic_dataset_dir, broken_copy):
    runner = CliRunner()
    fine = runner.invoke(main, ["check-data", str(synthetic_dataset_dir)], catch_exceptions=False)
    assert fine.exit_code == 0, fine.output
    for name in ("Explicit VR Little Endian", "Implicit VR Little Endian", "JPEG-LS Lossless Image Compression",
                 "RLE Lossless",
                 "JPEG 2000 Image Compression (Lossless Only)", "Deflated Explicit VR Little Endian"):
        assert f'"name": "{name}"' in fine.output
    assert '"which": "first of each series"' in fine.output and "no problems found" in fine.output
    data, relative = broken_copy
    first = runner.invoke(main, ["check-data", str(data)], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    every = runner.invoke(main, ["check-data", str(data), "--decode-all"], catch_exceptions=False)
    assert every.exit_code == 1
    assert '"MPEG2 Main Profile / Main Level"' in every.output
    assert f"{relative}: pixels are stored as MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100)" in every.output
    assert "Traceback" not in every.output and '"which": "all"' in every.output
