"""Rule annotate: annotated.mp4 has every frame of its source, and each person's box where identities.npz
says, in a colour of the person's own; elsewhere the picture is the source's (H.264 at CRF 23)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import Workdir, repo_config

from reidflow.annotate import (
    AnnotateError,
    PersonBoxes,
    annotate_video,
    person_boxes,
    person_colour,
    person_label,
)
from reidflow.formats.identities import IdentityRows, read_identities
from reidflow.formats.people import Appearance, People, Person, read_people
from reidflow.formats.tracks import TrackRows


def decoded_frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def frames_at(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """BGR frames of ``path`` by index, decoded by OpenCV for source and output alike."""
    cap, out, index = cv2.VideoCapture(str(path)), {}, 0
    while len(out) < len(wanted):
        ok, frame = cap.read()
        assert ok, f"{path}: frame {index} does not decode"
        if index in wanted:
            out[index] = frame.astype(np.int16)
        index += 1
    cap.release()
    return out


def border(box: np.ndarray, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Pixel rows and columns on the four edges of ``box`` (inside the frame)."""
    h, w = shape[:2]
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    xs = np.arange(max(0, x1), min(w, x2 + 1))
    ys = np.arange(max(0, y1), min(h, y2 + 1))
    rows = [np.full_like(xs, y) for y in (y1, y2) if 0 <= y < h] + [ys for x in (x1, x2) if 0 <= x < w]
    cols = [xs for y in (y1, y2) if 0 <= y < h] + [np.full_like(ys, x) for x in (x1, x2) if 0 <= x < w]
    return np.concatenate(rows), np.concatenate(cols)


def far_from(boxes: list[np.ndarray], shape: tuple[int, ...], margin: int = 32) -> np.ndarray:
    """Pixels at least ``margin`` away from every box (twice that above it, where its label sits)."""
    mask = np.ones(shape[:2], dtype=bool)
    for x1, y1, x2, y2 in (np.round(b).astype(int) for b in boxes):
        mask[max(0, y1 - 2 * margin) : max(0, y2 + margin), max(0, x1 - margin) : max(0, x2 + margin)] = False
    return mask


def check_boxes_drawn(source: Path, annotated: Path, boxes: PersonBoxes, sample: list[int], hold: int = 1) -> None:
    before, after = frames_at(source, set(sample)), frames_at(annotated, set(sample))
    for f in sample:
        shown = [box for box, _, _ in boxes.at(f, hold)]
        assert shown, f"frame {f} has boxes to check"
        src, out = before[f], after[f]
        h, w = out.shape[:2]
        src = src[:h, :w]
        for box in shown:
            ys, xs = border(box, out.shape)
            diff = np.abs(out[ys, xs] - src[ys, xs]).sum(axis=1)
            assert np.median(diff) > 60, f"frame {f}: no box drawn at {box.tolist()}"
        far = far_from(shown, out.shape)
        assert far.mean() > 0.2, "enough of the frame away from the boxes to compare"
        error = np.abs(out[far] - src[far])
        assert error.mean() < 4 and np.percentile(error, 99) < 30, f"frame {f}: the picture changed away from boxes"


# --- generated video ----------------------------------------------------------------------------------


def appearance(video: str, identity: int) -> Appearance:
    return Appearance(video, identity, [identity], 0, 1, 0.0, 0.1, identity, 0, 0.9)


def test_colours_and_labels_are_stable_per_person():
    colours = [person_colour(p) for p in range(1, 41)]
    assert colours == [person_colour(p) for p in range(1, 41)], "a function of the id alone"
    assert all(a != b for a, b in zip(colours, colours[1:])), "neighbouring ids differ"
    assert all(max(c) >= 200 for c in colours), "saturated: visible on the picture"
    assert person_label(Person(3, [], "v:1")) == "P3"
    assert person_label(Person(3, [], "v:1", name="Alice")) == "Alice"


def test_boxes_held_between_detected_frames():
    rows = PersonBoxes(
        frames=np.array([0, 0, 3, 9]),
        boxes=np.arange(16, dtype=np.float32).reshape(4, 4),
        labels=["P1", "P2", "P1", "P2"],
        colours=[(0, 0, 255)] * 4,
    )
    labels = lambda f, hold=1: [label for _, label, _ in rows.at(f, hold)]
    assert labels(0) == ["P1", "P2"] and labels(1) == [] and labels(3) == ["P1"] and labels(10) == []
    assert labels(2, hold=3) == ["P1", "P2"] and labels(3, hold=3) == ["P1"] and labels(6, hold=3) == []


def test_identities_without_a_person_fail_naming_people_json():
    rows = TrackRows(np.array([0]), np.array([4]), np.array([[0, 0, 9, 9]], dtype=np.float32), np.array([0.9]))
    identities = IdentityRows("v", rows, np.array([2]), [])
    people = People(["v"], {}, {}, [Person(1, [appearance("v", 1)], "v:1")], [], [])
    with pytest.raises(AnnotateError, match=r"results/people/people\.json: identities \[2\] of video 'v'"):
        person_boxes(identities, people, "results/people/people.json")


def test_annotated_generated_video(tmp_path):
    """A textured 40-frame video with odd size: every frame comes back, each box is drawn where it says."""
    rng = np.random.default_rng(0)
    h, w, n = 181, 243, 40
    src = tmp_path / "src.avi"
    writer = cv2.VideoWriter(str(src), cv2.VideoWriter_fourcc(*"MJPG"), 12.5, (w, h))
    background = cv2.GaussianBlur(rng.integers(60, 200, (h, w, 3), dtype=np.uint8), (0, 0), 6)
    for f in range(n):
        writer.write(np.roll(background, f, axis=1))
    writer.release()
    frames = np.repeat(np.arange(0, n, 2), 2)  # two people on every other frame (vid_stride 2), one ignored
    tracks = np.tile([1, 2], n // 2)
    boxes = np.array([[20 + f, 60, 70 + f, 160] if t == 1 else [150, 40, 200, 150] for f, t in zip(frames, tracks)])
    rows = TrackRows(frames, tracks, boxes.astype(np.float32), np.full(n, 0.9))
    identities = IdentityRows("v", rows, np.where(tracks == 1, 0, -1), [])
    people = People(["v"], {}, {}, [Person(7, [appearance("v", 0)], "v:0")], [], [])
    person = person_boxes(identities, people)
    assert len(person.frames) == n // 2 and set(person.labels) == {"P7"} and set(person.colours) == {person_colour(7)}

    out = tmp_path / "annotated.mp4"
    assert annotate_video(src, person, out, vid_stride=2) == n
    assert decoded_frame_count(out) == n
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and float(stream.average_rate) == pytest.approx(12.5)
        assert (stream.width, stream.height) == (w - 1, h - 1), "yuv420p: even sizes"
    check_boxes_drawn(src, out, person, [0, 1, 17, 38], hold=2)
    after = frames_at(out, {10})[10]
    ys, xs = border(np.array([150, 40, 200, 150]), after.shape)  # the track in no identity: not drawn
    assert np.median(np.abs(after[ys, xs] - frames_at(src, {10})[10][: h - 1, : w - 1][ys, xs]).sum(axis=1)) < 30


# --- the workflow on real video ------------------------------------------------------------------------


@pytest.mark.slow
def test_annotate_rule_on_the_vtest_clip(tmp_path, models_dir, vtest_clip, vtest_gt):
    """`annotate: true` puts annotated.mp4 into a plain run: 124 frames, boxes where identities.txt says."""
    config = repo_config(models_dir)
    config["annotate"] = True
    wd = Workdir(tmp_path, config)
    wd.write_config()
    wd.write_videos([("clip", vtest_clip, vtest_gt)])
    wd.snakemake()
    results = wd.path / "results"
    annotated = results / "clip" / "annotated.mp4"
    assert decoded_frame_count(annotated) == decoded_frame_count(vtest_clip) == 124
    identities = read_identities(results / "clip" / "identities.npz")
    people = read_people(results / "people" / "people.json")
    boxes = person_boxes(identities, people)
    # identities.txt (MOTChallenge, 1-based) holds exactly the boxes drawn
    mot = np.loadtxt(results / "clip" / "identities.txt", delimiter=",", ndmin=2)
    assert len(mot) == len(boxes.frames)
    np.testing.assert_array_equal(np.sort(mot[:, 0] - 1), boxes.frames)
    person_of = people.person_of()
    assert set(boxes.labels) == {f"P{person_of[f'clip:{i}']}" for i in set(mot[:, 1].astype(int).tolist())}
    check_boxes_drawn(vtest_clip, annotated, boxes, [0, 41, 83, 123])
    log = (wd.path / "logs" / "annotate" / "clip.log").read_text()
    assert "124 frames" in log
