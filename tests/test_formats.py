import json
import os
import subprocess
import sys

import numpy as np
import pytest

from reidflow.files import atomic_output
from reidflow.formats import tracks as tracks_format
from reidflow.formats.base import FormatError
from reidflow.formats.clusters import CLUSTERS_FORMAT_VERSION, read_clusters
from reidflow.formats.crops import PERSONS_DTYPE, CropsMeta, open_crops_writer
from reidflow.formats.mot import read_mot, write_mot
from reidflow.formats.similarity import SIMILARITY_FORMAT_VERSION, read_similarity
from reidflow.formats.tracks import TrackRows, Tracks, TracksMeta, VideoInfo, read_tracks, write_tracks


def random_rows(rng, n=200, tracks=7, frames=50):
    xy = rng.uniform(0, 500, size=(n, 2))
    wh = rng.uniform(5, 200, size=(n, 2))
    return TrackRows(
        rng.integers(0, frames, n), rng.integers(1, tracks + 1, n), np.hstack([xy, xy + wh]), rng.uniform(0.1, 1, n)
    )


def meta(**kw):
    base = dict(
        video="v1",
        source="videos/v1.mp4",
        info=VideoInfo(25.0, 1920, 1080, 50),
        vid_stride=2,
        detector="yolov8n.pt",
        detector_sha256="ab" * 32,
        tracker="bytetrack",
        tracker_params={"track_buffer": 30},
    )
    return TracksMeta(**{**base, **kw})


def test_tracks_round_trip(tmp_path):
    rows = random_rows(np.random.default_rng(0))
    write_tracks(tmp_path / "t.npz", Tracks(rows, meta()))
    back = read_tracks(tmp_path / "t.npz")
    order = np.lexsort((rows.track_ids, rows.frames))
    np.testing.assert_array_equal(back.rows.frames, rows.frames[order])
    np.testing.assert_array_equal(back.rows.track_ids, rows.track_ids[order])
    np.testing.assert_array_equal(back.rows.boxes, rows.boxes[order])
    np.testing.assert_array_equal(back.rows.scores, rows.scores[order])
    assert back.meta == meta()
    assert back.rows.boxes.dtype == np.float32 and back.rows.frames.dtype == np.int64


def test_empty_tracks_round_trip(tmp_path):
    write_tracks(tmp_path / "e.npz", Tracks(TrackRows.empty(), meta()))
    back = read_tracks(tmp_path / "e.npz")
    assert len(back.rows) == 0 and back.rows.boxes.shape == (0, 4)
    assert list(back.track_ids) == []


def test_mot_round_trip(tmp_path):
    rows = random_rows(np.random.default_rng(1)).sorted()
    write_mot(tmp_path / "t.txt", rows)
    first = (tmp_path / "t.txt").read_text().splitlines()[0].split(",")
    assert int(first[0]) == rows.frames[0] + 1, "MOTChallenge frames are 1-based"
    assert len(first) == 10
    back = read_mot(tmp_path / "t.txt")
    np.testing.assert_array_equal(back.frames, rows.frames)
    np.testing.assert_array_equal(back.track_ids, rows.track_ids)
    np.testing.assert_allclose(back.boxes, rows.boxes, atol=0.01)
    np.testing.assert_allclose(back.scores, rows.scores, atol=1e-4)


def test_empty_mot(tmp_path):
    write_mot(tmp_path / "e.txt", TrackRows.empty())
    assert len(read_mot(tmp_path / "e.txt")) == 0


def test_reading_a_foreign_file_names_it(tmp_path):
    bad = tmp_path / "tracks.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(FormatError, match=str(bad)):
        read_tracks(bad)


def test_version_mismatch_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(tracks_format, "TRACKS_FORMAT_VERSION", 99)
    write_tracks(tmp_path / "t.npz", Tracks(TrackRows.empty(), meta(format_version=99)))
    monkeypatch.setattr(tracks_format, "TRACKS_FORMAT_VERSION", 1)
    with pytest.raises(FormatError, match="version 99"):
        read_tracks(tmp_path / "t.npz")


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_rows_reject_mismatched_lengths():
    with pytest.raises(ValueError):
        TrackRows(np.zeros(2), np.zeros(3), np.zeros((2, 4)), np.zeros(2))


def test_crop_chunks_are_blosc_lz4_and_read_back_through_the_filter(tmp_path):
    """The writer compresses each chunk itself: plain h5py + hdf5plugin must read it back unchanged."""
    import h5py
    import hdf5plugin

    rng = np.random.default_rng(2)
    images = rng.integers(0, 256, (3, 32, 16, 3), dtype=np.uint8)
    images[1] = 7  # one flat crop, which must compress well
    persons = np.array([(7, 0, 9, 10, 3)], dtype=PERSONS_DTYPE)
    meta = CropsMeta("v1", "v1.mp4", 25.0, 10, crop_height=32, crop_width=16, resize="stretch")
    with open_crops_writer(tmp_path / "c.h5", meta, persons) as writer:
        for slot in (2, 0, 1):
            writer.put_crop(7, slot, images[slot])
        with pytest.raises(FormatError, match=r"holds \(32, 16, 3\) uint8"):
            writer.put_crop(7, 0, images[0, :16])
    with h5py.File(tmp_path / "c.h5", "r") as file:
        crops = file["tracks/7/crops"]
        assert crops.chunks == (1, 32, 16, 3), "one crop per chunk"
        code, _, options, _ = crops.id.get_create_plist().get_filter(0)
        assert code == hdf5plugin.BLOSC_ID and options[4:] == (5, 0, 1), "Blosc, clevel 5, no shuffle, LZ4"
        np.testing.assert_array_equal(crops[()], images)
        assert crops.id.get_chunk_info(1).size < images[1].nbytes / 10
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "c.h5").stat().st_mode & 0o777 == 0o666 & ~umask, "the usual permissions, not mkstemp's 0600"


@pytest.mark.parametrize("reader, rule", [(read_similarity, "similarity"), (read_clusters, "cluster")])
def test_json_with_a_missing_field_is_a_damaged_file(tmp_path, reader, rule):
    path = tmp_path / "record.json"
    version = SIMILARITY_FORMAT_VERSION if rule == "similarity" else CLUSTERS_FORMAT_VERSION
    path.write_text(json.dumps({"format_version": version, "video": "v", "track_ids": [1]}))
    with pytest.raises(FormatError, match=r"record\.json: damaged file .*run `snakemake` again"):
        reader(path)


def test_a_format_module_loads_no_other_codec():
    """reidflow.formats imports none of its modules: the track stage never loads HDF5 or the JSON codecs."""
    code = "import sys, reidflow.formats.tracks; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    )
    assert {m for m in loaded if m.startswith("reidflow")} == {
        "reidflow",
        "reidflow.files",
        "reidflow.formats",
        "reidflow.formats.base",
        "reidflow.formats.tracks",
    }
    assert not {"h5py", "hdf5plugin"} & loaded
