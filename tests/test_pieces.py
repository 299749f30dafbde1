"""Tracks cut at identity switches (reidflow.pieces): the cut itself on real ReID features of ground-truth
crops, and every stage after it agreeing on the pieces."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
from helpers_identities import write_crops_of

from reidflow import cluster, features, pieces, similarity
from reidflow.appearance.network import build_embedder
from reidflow.features import FeatureSettings
from reidflow.formats.base import FormatError
from reidflow.formats.crops import read_crop_frames
from reidflow.formats.mot import read_mot
from reidflow.formats.persons import read_persons
from reidflow.formats.similarity import Cut
from reidflow.formats.tracks import TrackRows, VideoInfo
from reidflow.overrides import Overrides, OverridesError
from reidflow.settings import ClusterSettings, SimilaritySettings

DEFAULTS = SimilaritySettings()
STEP = 3  # crops are kept every few frames, as the crops stage keeps them


@pytest.fixture(scope="module")
def person_of(vtest_video):
    """Ground-truth trajectory -> person (re-entries share one)."""
    return read_persons(vtest_video.parent / "persons_frames1-400.csv")


@pytest.fixture(scope="module")
def person_features(weights, vtest_video, tmp_path_factory):
    """Per ground-truth trajectory of frames 1-400 with >= 60 boxes: (frames, unit OSNet features) of the
    crops of every STEP-th box, in frame order; crops cut and stretched to 256x128 as stage crops does."""
    gt_file = vtest_video.parent / "gt_frames1-400.txt"
    gt = read_mot(gt_file)
    wanted = {}
    for t in np.unique(gt.track_ids):
        rows = np.flatnonzero(gt.track_ids == t)
        rows = rows[np.argsort(gt.frames[rows])][::STEP]
        if len(rows) >= 60 // STEP * 2:
            wanted[int(t)] = rows
    by_frame: dict[int, list[tuple[int, int]]] = {}
    for t, rows in wanted.items():
        for r in rows:
            by_frame.setdefault(int(gt.frames[r]), []).append((t, r))
    crops: dict[int, list[tuple[int, np.ndarray]]] = {t: [] for t in wanted}
    capture = cv2.VideoCapture(str(vtest_video))
    frame_index = 0
    while by_frame:
        ok, image = capture.read()
        assert ok, f"{vtest_video} ended before frame {min(by_frame)}"
        for t, r in by_frame.pop(frame_index, []):
            x1, y1, x2, y2 = np.round(gt.boxes[r]).astype(int)
            x1, y1 = max(x1, 0), max(y1, 0)
            crop = cv2.resize(image[y1:y2, x1:x2], (128, 256), interpolation=cv2.INTER_LINEAR)
            crops[t].append((frame_index, cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)))
        frame_index += 1
    capture.release()
    model = features.build_model("osnet_x0_25", weights)
    embed = build_embedder(features.ReidNetwork(model).eval(), FeatureSettings(), 2, (256, 128))
    out = {}
    for t, items in crops.items():
        images = np.stack([c for _, c in items])
        out[t] = (np.array([f for f, _ in items]), features.embed_in_batches([(0, images)], embed, 64)[0])
    return out


def test_a_track_made_of_two_peoples_crops_is_cut_where_the_second_begins(person_features, person_of):
    """Every ordered pair of two people of the dev frames as one track (the first one's last 20 crops, then
    the second one's first 20): a cut is always at the switch, and it is found whenever the two look clearly
    different (cosine of their mean features below split_below - 0.05). Look-alikes (up to 0.90 here) are
    left whole: precision first."""
    cut_pairs, clear_pairs, pairs = 0, 0, 0
    for a in sorted(person_features):
        for b in sorted(person_features):
            if person_of[a] == person_of[b]:
                continue
            (_, x_a), (_, x_b) = person_features[a], person_features[b]
            n = min(len(x_a), len(x_b), 20)
            frames = np.concatenate([np.arange(n) * STEP, 100 + np.arange(n) * STEP])
            mean_a, mean_b = x_a[-n:].mean(axis=0), x_b[:n].mean(axis=0)
            alike = float(mean_a @ mean_b / np.linalg.norm(mean_a) / np.linalg.norm(mean_b))
            cuts = pieces.find_cuts(
                [5],
                [np.concatenate([x_a[-n:], x_b[:n]])],
                [frames],
                100,
                DEFAULTS.split_below,
                DEFAULTS.split_min_crops,
            )
            pairs += 1
            if alike < DEFAULTS.split_below - 0.05:
                clear_pairs += 1
                assert cuts, f"people {a} then {b} (mean cosine {alike:.2f}) were not cut"
            if cuts:
                cut_pairs += 1
                # one cut, halfway between the last crop of the first person and the first of the second
                assert [(c.track, c.frame, c.piece) for c in cuts] == [(5, ((n - 1) * STEP + 100 + 1) // 2, 105)]
                assert cuts[0].cosine < DEFAULTS.split_below
    print(f"{pairs} pairs of people, {clear_pairs} clearly different, {cut_pairs} cut")
    assert clear_pairs >= 10 and cut_pairs >= clear_pairs, (pairs, clear_pairs, cut_pairs)


def test_a_track_of_one_person_is_not_cut(person_features):
    """Every long trajectory of the ground truth, alone: pose, size and lighting change, the person does not."""
    for t, (frames, x) in person_features.items():
        assert pieces.find_cuts([t], [x], [frames], 1000, DEFAULTS.split_below, DEFAULTS.split_min_crops) == [], t


def test_two_switches_make_three_pieces_and_short_ends_stay():
    """A-B-C and A-B-A (a switch and a switch back) both become three pieces; a few odd crops at an end
    (an occlusion) are not cut off."""
    rng = np.random.default_rng(0)
    a, b, c = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2]

    def crops(direction, n):
        x = direction + 0.1 * rng.standard_normal((n, 8))
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    for last in (c, a):
        x = np.concatenate([crops(a, 12), crops(b, 12), crops(last, 12)])
        cuts = pieces.find_cuts([3], [x], [np.arange(36) * 2], 10, 0.65, 8)
        assert [(c.track, c.frame, c.piece) for c in cuts] == [(3, 23, 13), (3, 47, 23)]
    # 3 odd crops at the end weigh too little in the last 8 to cut; with 3 as the minimum they are cut
    short_end = np.concatenate([crops(a, 30), crops(b, 3)])
    assert pieces.find_cuts([3], [short_end], [np.arange(33)], 10, 0.65, 8) == []
    assert [c.frame for c in pieces.find_cuts([3], [short_end], [np.arange(33)], 10, 0.65, 3)] == [30]
    # nor are 3 odd crops inside
    inside = np.concatenate([crops(a, 15), crops(b, 3), crops(a, 15)])
    assert pieces.find_cuts([3], [inside], [np.arange(33)], 10, 0.65, 8) == []


def test_pieces_relabel_rows_features_and_are_kept_apart():
    cuts = [Cut(track=3, frame=24, piece=10, cosine=0.2), Cut(track=3, frame=48, piece=11, cosine=0.3)]
    frames = np.array([0, 23, 24, 47, 48, 60, 30])
    track_ids = np.array([3, 3, 3, 3, 3, 3, 4])
    assert pieces.relabel(track_ids, frames, cuts).tolist() == [3, 3, 10, 10, 11, 11, 4]
    rows = TrackRows(frames, track_ids, np.zeros((7, 4)), np.ones(7))
    assert pieces.split_rows(rows, cuts).track_ids.tolist() == [3, 3, 10, 10, 11, 11, 4]
    assert pieces.split_rows(rows, []) is rows
    x = np.arange(7.0)[:, None]
    split = pieces.split_features({3: x[:6], 4: x[6:]}, {3: frames[:6], 4: frames[6:]}, cuts)
    assert list(split) == [3, 10, 11, 4]
    assert split[10].ravel().tolist() == [2.0, 3.0]
    assert pieces.adjacent_pieces(cuts) == [(3, 10), (10, 11)]


def test_similarity_record_is_about_pieces_and_refuses_crops_that_do_not_fit_the_features():
    rng = np.random.default_rng(1)
    a, b = np.eye(8)[0] + 0.1 * rng.standard_normal((10, 8)), np.eye(8)[1] + 0.1 * rng.standard_normal((10, 8))
    x = np.concatenate([a, b])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = np.eye(8)[2][None].repeat(5, axis=0)
    frames = np.arange(20)
    rows = TrackRows(np.concatenate([frames, frames]), [4] * 20 + [9] * 20, np.zeros((40, 4)), np.ones(40))
    record = similarity.build_similarity("v", [4, 9], [x, y], rows, DEFAULTS, "f.h5", [frames, frames[:5]])
    assert [(c.track, c.frame, c.piece) for c in record.cuts] == [(4, 10, 14)]  # ids below 10: base 10
    assert record.track_ids == [4, 14, 9]
    assert record.matrix[0, 1] < 0.2 and record.cooccurrence.tolist()[0] == [10, 0, 10]
    with pytest.raises(
        similarity.SimilarityError, match=r"f\.h5: track\(s\) 9 have another number of feature rows than of crops"
    ):
        similarity.build_similarity("v", [4, 9], [x, y], rows, DEFAULTS, "f.h5", [frames, frames[:4]])


def cut_track_record():
    """Track 4: 10 crops of look a, then 10 of look b (cosine 0.6: cut), walking on without a gap, so the
    space-time continuation bonus (+0.1) would lift the two sides above the merge threshold; track 9 far off."""
    a, b = np.eye(8)[0], 0.6 * np.eye(8)[0] + 0.8 * np.eye(8)[1]
    x = np.concatenate([np.tile(a, (10, 1)), np.tile(b, (10, 1))])
    frames = np.arange(20)
    boxes = np.stack([100 + 2 * frames, np.full(20, 100), 150 + 2 * frames, np.full(20, 250)], axis=1)
    far = boxes + [400, 0, 400, 0]
    rows = TrackRows(np.concatenate([frames, frames]), [4] * 20 + [9] * 20, np.vstack([boxes, far]), np.ones(40))
    settings = replace(DEFAULTS, split_min_crops=5)
    record = similarity.build_similarity(
        "v", [4, 9], [x, np.tile(np.eye(8)[2], (5, 1))], rows, settings, "f.h5", [frames, frames[:5]]
    )
    return record, rows


def test_the_two_sides_of_a_cut_stay_apart_unless_a_person_merges_them():
    record, rows = cut_track_record()
    assert [(c.track, c.frame, c.piece) for c in record.cuts] == [(4, 10, 14)]
    info = VideoInfo(fps=10.0, width=800, height=600, frame_count=20)
    settings = ClusterSettings(recommend_threshold=0.5)
    assert spacetime_score(record, rows, info, settings) > 1 - settings.distance_threshold  # would merge
    clusters = cluster.build_clusters(record, rows, settings, info=info)
    identity_of = clusters.identity_of()
    assert identity_of[4] != identity_of[14] and clusters.cuts == record.cuts
    (recommendation,) = [r for r in clusters.recommendations if {r.a, r.b} == {4, 14}]
    assert recommendation.reason == "cut_at_switch"
    # and the people stage keeps their identities apart too
    assert sorted((identity_of[4], identity_of[14])) in clusters.apart
    merged = cluster.build_clusters(record, rows, settings, Overrides(merge=((4, 14),)), info=info)
    assert merged.identity_of()[4] == merged.identity_of()[14]
    with pytest.raises(OverridesError, match=r"tracks 4 and 14 .* two sides of a track cut at an identity switch"):
        cluster.build_clusters(record, rows, settings, Overrides(merge=((4, 9), (9, 14))), info=info)


def spacetime_score(record, rows, info, settings):
    """The same-person score of pieces 4 and 14 (appearance plus space-time), as cluster computes it."""
    from reidflow import spacetime

    ids = np.asarray(record.track_ids)
    evidence = spacetime.spacetime_evidence(
        spacetime.summarise(pieces.split_rows(rows, record.cuts), ids, info), info.fps, settings
    )
    return record.matrix[0, 1] + evidence[0, 1]


def test_piece_ids_depend_on_their_own_track_only_and_the_search_is_exact():
    """A cut of another track renumbers no piece (a person's overrides may name pieces); best_segment's
    cosines from the Gram matrix equal the direct computation."""
    rng = np.random.default_rng(2)
    a, b = np.eye(8)[0], np.eye(8)[1]
    switch = np.concatenate([a + 0.1 * rng.standard_normal((10, 8)), b + 0.1 * rng.standard_normal((10, 8))])
    same = a + 0.1 * rng.standard_normal((20, 8))
    frames = np.arange(20)
    alone = pieces.find_cuts([7], [switch], [frames], 100, 0.65, 8)
    beside = pieces.find_cuts([3, 7], [switch, switch], [frames, frames], 100, 0.65, 8)
    assert [c.piece for c in alone] == [107] and [c.piece for c in beside] == [103, 107]
    assert pieces.find_cuts([3, 7], [same, switch], [frames, frames], 100, 0.65, 8) == alone
    assert [pieces.piece_base(n) for n in (0, 9, 10, 99, 105)] == [10, 10, 100, 100, 1000]
    x = rng.standard_normal((23, 5))
    start, stop, cosine = pieces.best_segment(x, 4)
    direct = min(
        (
            float(
                np.dot(x[i:j].sum(0), x.sum(0) - x[i:j].sum(0))
                / np.linalg.norm(x[i:j].sum(0))
                / np.linalg.norm(x.sum(0) - x[i:j].sum(0))
            ),
            i,
            j,
        )
        for i in [0, *range(4, 20)]
        for j in [*range(4, 20), 23]
        if j - i >= 4 and 23 - (j - i) >= 4 and (i == 0 or i >= 4) and (j == 23 or 23 - j >= 4)
    )
    assert (start, stop) == direct[1:] and cosine == pytest.approx(direct[0])


def test_crop_frames_of_a_track_the_crops_file_lacks_name_the_file(tmp_path):
    """features.h5 and final_crops.h5 out of step (one rebuilt, not the other): the similarity stage says which."""
    rows = TrackRows(np.arange(10), [4] * 10, np.zeros((10, 4)), np.ones(10))
    write_crops_of(tmp_path / "final_crops.h5", "v", rows, {4: 6})
    (frames,) = read_crop_frames(tmp_path / "final_crops.h5", [4])
    assert frames.tolist() == [0, 1, 2, 3, 4, 5]
    with pytest.raises(
        FormatError, match=r"final_crops\.h5: no crops of track\(s\) 9; delete it and run `snakemake` again"
    ):
        read_crop_frames(tmp_path / "final_crops.h5", [4, 9])


def test_the_crossing_partner_of_a_cut_is_cut_where_the_two_people_swapped(person_features, person_of):
    """Two people cross and the tracker swaps them: track 1 follows a then b, track 2 follows b, then a for
    3 crops before it ends: too few to cut on its own, but its box crosses track 1 at the cut and its two
    sides look like track 1's other sides, so it is cut too. Not when it never comes near, nor when its
    last crops are still b."""
    long = sorted(person_features, key=lambda t: -len(person_features[t][1]))
    a = long[0]
    b = min(
        (t for t in long[1:] if person_of[t] != person_of[a]),
        key=lambda t: float(person_features[a][1].mean(axis=0) @ person_features[t][1].mean(axis=0)),
    )
    x_a, x_b = person_features[a][1], person_features[b][1]
    assert len(x_a) >= 23 and len(x_b) >= 43, "the two people need enough crops"
    before, after = np.arange(20) * STEP, 60 + np.arange(20) * STEP
    track_1 = (np.concatenate([x_a[-20:], x_b[:20]]), np.concatenate([before, after]))
    swapped_2 = (np.concatenate([x_b[20:40], x_a[-23:-20]]), np.concatenate([before, 60 + np.arange(3) * STEP]))
    still_2 = (x_b[20:43], swapped_2[1])

    def boxes(track, x):  # person-sized boxes at x (one per frame)
        return TrackRows(
            np.arange(len(x)), np.full(len(x), track), np.c_[x, x * 0 + 100, x + 40, x * 0 + 220], np.ones(len(x))
        )

    crossing = TrackRows.concatenate(
        [boxes(1, 100.0 + 2 * np.arange(120)), boxes(2, 336.0 - 2 * np.arange(70))]  # they meet at frame 59
    )
    apart = TrackRows.concatenate([boxes(1, 100.0 + 2 * np.arange(120)), boxes(2, 700.0 + 0 * np.arange(70))])

    def cuts(two, rows):
        ids, x, frames = [1, 2], [track_1[0], two[0]], [track_1[1], two[1]]
        found = pieces.find_cuts(ids, x, frames, 10, DEFAULTS.split_below, DEFAULTS.split_min_crops)
        assert [(c.track, c.crossing) for c in found] == [(1, None)], "track 2 alone has too few crops to cut"
        return pieces.swap_cuts(found, ids, x, frames, rows, 10, DEFAULTS.split_below)

    swapped = cuts(swapped_2, crossing)
    assert [(c.track, c.frame, c.piece, c.crossing) for c in swapped] == [(1, 59, 11, None), (2, 59, 12, 1)]
    assert swapped[1].cosine < DEFAULTS.split_below
    assert [c.track for c in cuts(swapped_2, apart)] == [1], "it never came near track 1"
    assert [c.track for c in cuts(still_2, crossing)] == [1], "its last crops are still b"


def test_a_crossing_partner_cut_keeps_the_piece_ids_its_track_had():
    """Track 2 was cut at frame 80 on its own (piece 12) and swaps people with track 1 at frame 23: its new
    piece takes the next number (22) and piece 12 still starts at frame 80, as a person's overrides say."""
    a, b, c = np.eye(8)[0], np.eye(8)[1], np.eye(8)[2]
    x1, f1 = np.stack([a] * 12 + [b] * 12), np.r_[0:24:2, 24:48:2]
    x2, f2 = np.stack([b] * 12 + [a] * 3 + [c] * 10), np.r_[0:24:2, 24:30:2, 80:100:2]
    box = np.array([[100.0, 100.0, 140.0, 220.0]])
    rows = TrackRows(np.r_[0:48, 0:100], np.r_[[1] * 48, [2] * 100], np.repeat(box, 148, axis=0), np.ones(148))
    found = [Cut(1, 23, 11, 0.0), Cut(2, 80, 12, 0.0)]
    cuts = pieces.swap_cuts(found, [1, 2], [x1, x2], [f1, f2], rows, 10, 0.65)
    assert [(c.track, c.frame, c.piece, c.crossing) for c in cuts] == [
        (1, 23, 11, None),
        (2, 23, 22, 1),
        (2, 80, 12, None),
    ]
    labels = pieces.relabel(np.full(100, 2), np.arange(100), cuts)
    assert (labels[:23] == 2).all() and (labels[23:80] == 22).all() and (labels[80:] == 12).all()
    assert pieces.adjacent_pieces(cuts) == [(1, 11), (2, 22), (22, 12)]
    # a partner already cut near the crossing is not cut again
    near = [Cut(1, 23, 11, 0.0), Cut(2, 25, 12, 0.0)]
    assert pieces.swap_cuts(near, [1, 2], [x1, x2], [f1, f2], rows, 10, 0.65) == near
