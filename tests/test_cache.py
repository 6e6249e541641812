"""The results cache: keys, damaged records, upload fingerprints."""

from __future__ import annotations

import json
import os

from lssbench.cache import ResultsCache, cache_identity, upload_fingerprint


def test_upload_fingerprint_follows_the_bytes(tmp_path):
    sub = tmp_path / "sub"
    (sub / "segmentation").mkdir(parents=True)
    (sub / "grades.csv").write_text("a\n")
    (sub / "segmentation" / "P.png").write_bytes(b"png")
    first = upload_fingerprint(sub)
    assert first == upload_fingerprint(sub) and first.startswith("sha256:")
    (sub / "grades.csv").write_text("b\n")
    changed = upload_fingerprint(sub)
    assert changed != first
    os.rename(sub / "segmentation" / "P.png", sub / "segmentation" / "Q.png")  # names count too
    assert upload_fingerprint(sub) != changed
    os.symlink("/etc/passwd", sub / "link")  # a link counts by its text, never followed
    linked = upload_fingerprint(sub)
    os.remove(sub / "link")
    os.symlink("/etc/hosts", sub / "link")
    assert upload_fingerprint(sub) != linked
    archive = tmp_path / "x.zip"
    archive.write_bytes(b"PK")
    import hashlib
    assert upload_fingerprint(archive) == "sha256:" + hashlib.sha256(b"PK").hexdigest()


def test_records_are_found_only_under_their_identity(tmp_path):
    cache = ResultsCache(tmp_path / "cache")
    identity = cache_identity("sha256:u", "sha256:g", "1", {"resamples": 10, "seed": 0})
    assert cache.load(identity) is None and cache.misses == 1
    cache.store(identity, {"team": "t"}, {"tasks": ["grading"], "grading": {"qwk": 0.5}})
    assert cache.load(identity) == {"meta": {"team": "t"}, "results": {"tasks": ["grading"], "grading": {"qwk": 0.5}}}
    assert cache.hits == 1
    for other in (cache_identity("sha256:u", "sha256:g", "2", {"resamples": 10, "seed": 0}),
                  cache_identity("sha256:u", "sha256:g", "1", {"resamples": 10, "seed": 1}),
                  cache_identity("sha256:v", "sha256:g", "1", {"resamples": 10, "seed": 0})):
        assert cache.load(other) is None
    # a damaged record, or one whose identity does not match its name, is a miss
    path = cache.path(identity)
    path.write_text("{not json")
    assert cache.load(identity) is None
    record = {"format": "lssbench-results-cache", "schema_version": 1, "results": {},
              "identity": cache_identity("sha256:x", "sha256:g", "1", {})}
    path.write_text(json.dumps(record))
    assert cache.load(identity) is None


def test_an_unwritable_record_is_noted_not_fatal(tmp_path):
    cache = ResultsCache(tmp_path / "cache")
    identity = cache_identity("u", "g", "1", {})
    cache.path(identity).mkdir()  # a folder where the record should go: the rename fails
    cache.store(identity, {}, {})
    assert len(cache.failures) == 1 and cache.failures[0].startswith(cache.path(identity).name)
    assert cache.load(identity) is None
