"""Stage 4: every aggregation against a brute-force loop over crop pairs, co-occurrence, similarity.json."""

import numpy as np
import pytest
from helpers_identities import rows_for, unit_tracks, views_of

from reidflow import similarity
from reidflow.formats.similarity import read_similarity, write_similarity
from reidflow.formats.tracks import TrackRows
from reidflow.ids import RepeatedIdError, locate
from reidflow.similarity import AGGREGATIONS, SimilarityError, SimilaritySettings


def brute_force(features, aggregation, topk):
    """The definition, pair by pair, in float64."""
    n = len(features)
    out = np.zeros((n, n))
    for i, a in enumerate(features):
        for j, b in enumerate(features):
            sims = np.sort((a.astype(np.float64) @ b.astype(np.float64).T).ravel())
            if aggregation == "mean":
                out[i, j] = sims.mean()
            elif aggregation == "mean_embedding":
                ma, mb = a.astype(np.float64).mean(0), b.astype(np.float64).mean(0)
                out[i, j] = ma @ mb / np.linalg.norm(ma) / np.linalg.norm(mb)
            elif aggregation == "median":
                out[i, j] = np.median(sims)
            elif aggregation == "max":
                out[i, j] = sims[-1]
            else:
                out[i, j] = sims[-topk:].mean()
    return out


COUNTS = {
    "equal": [6] * 9,
    "uneven, single crops": [1, 5, 3, 8, 1, 2, 7, 4, 6, 1],
}


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("counts", COUNTS.values(), ids=COUNTS.keys())
@pytest.mark.parametrize("block_bytes", [1, similarity.BLOCK_BYTES], ids=["tiny tiles", "one tile"])
def test_aggregation_equals_brute_force(aggregation, counts, block_bytes):
    rng = np.random.default_rng(len(counts))
    features = unit_tracks(rng, counts)
    got = similarity.aggregate(features, aggregation, topk=7, block_bytes=block_bytes)
    assert got.shape == (len(counts), len(counts))
    np.testing.assert_allclose(got, brute_force(features, aggregation, 7), atol=2e-6)
    np.testing.assert_array_equal(got, got.T)  # exactly symmetric, not only close


@pytest.mark.parametrize("aggregation", ["mean_embedding", "max"])
def test_diagonal_is_one_for_cosine_and_max(aggregation):
    features = unit_tracks(np.random.default_rng(3), [1, 4, 9, 2])
    np.testing.assert_allclose(np.diag(similarity.aggregate(features, aggregation)), 1.0, atol=1e-6)


def test_topk_larger_than_all_crop_pairs_is_the_mean():
    features = unit_tracks(np.random.default_rng(4), [2, 3, 1])
    np.testing.assert_allclose(
        similarity.aggregate(features, "topk_mean", topk=1000), similarity.aggregate(features, "mean"), atol=1e-6
    )


def test_same_person_scores_higher_than_strangers():
    """A sanity check of direction: two noisy views of one vector beat two unrelated vectors."""
    rng = np.random.default_rng(5)
    base = rng.standard_normal(64)
    features = [views_of(rng, base, 5), views_of(rng, base, 5), views_of(rng, rng.standard_normal(64), 5)]
    for aggregation in AGGREGATIONS:
        m = similarity.aggregate(features, aggregation)
        assert m[0, 1] > m[0, 2] + 0.3 and m[0, 1] > m[1, 2] + 0.3, aggregation


def test_bad_inputs_are_clear_errors():
    features = unit_tracks(np.random.default_rng(6), [2, 2])
    with pytest.raises(SimilarityError, match="aggregation 'mode' unknown"):
        similarity.aggregate(features, "mode")
    with pytest.raises(SimilarityError, match="same D"):
        similarity.aggregate([features[0], features[1][:, :10]], "mean")
    with pytest.raises(SimilarityError, match="no crop features"):
        similarity.aggregate([features[0], np.zeros((0, 24), np.float32)], "max")


def test_locate():
    keys = np.array([30, 10, 20])
    found, index = locate(keys, [20, 5, 30, 30, 99, 10])
    assert found.tolist() == [True, False, True, True, False, True] and index.tolist() == [2, 0, 0, 1]
    found, index = locate(np.zeros(0, np.int64), [1, 2])
    assert found.tolist() == [False, False] and len(index) == 0
    with pytest.raises(RepeatedIdError, match=r"track id\(s\) 10 listed more than once"):
        locate([10, 20, 10], [1])
    with pytest.raises(SimilarityError, match=r"track id\(s\) 10 listed more than once"):
        similarity.cooccurrence(rows_for({}), [10, 20, 10])


def test_several_videos_as_packed_keys_do_not_collide():
    """(video, track) packed into one int64 key, frames offset per video: the same track ids and frames in
    two videos stay apart, and co-occurrence is block-diagonal."""
    rows = rows_for({1: (0, 9), 2: (5, 14)})

    def of_video(v):
        return TrackRows(rows.frames + (v << 32), rows.track_ids + (v << 32), rows.boxes, rows.scores)

    both = TrackRows.concatenate([of_video(0), of_video(1)])
    keys = [1, 2, (1 << 32) + 1, (1 << 32) + 2]
    got = similarity.cooccurrence(both, keys)
    expected = np.zeros((4, 4), np.int64)
    expected[:2, :2] = expected[2:, 2:] = [[10, 5], [5, 10]]
    np.testing.assert_array_equal(got, expected)


def brute_cooccurrence(rows, ids):
    present = {t: set(rows.frames[rows.track_ids == t].tolist()) for t in ids}
    return np.array([[len(present[a] & present[b]) for b in ids] for a in ids])


def test_cooccurrence_counts_shared_frames():
    rng = np.random.default_rng(7)
    rows = TrackRows(rng.integers(0, 40, 300), rng.integers(1, 9, 300), np.zeros((300, 4)), np.ones(300))
    ids = [5, 1, 7, 3, 42]  # any order; 42 has no rows; tracks 2, 4, 6, 8 are ignored
    got = similarity.cooccurrence(rows, ids)
    np.testing.assert_array_equal(got, brute_cooccurrence(rows, ids))
    assert got[4].sum() == 0
    # a track listed twice in one frame still counts that frame once
    doubled = TrackRows.concatenate([rows, rows])
    np.testing.assert_array_equal(similarity.cooccurrence(doubled, ids), got)


def build(features, rows, **kw):
    track_ids = list(range(1, len(features) + 1))
    return similarity.build_similarity("v", track_ids, features, rows, SimilaritySettings(**kw))


def test_similarity_record_round_trip(tmp_path):
    rng = np.random.default_rng(8)
    features = unit_tracks(rng, [3, 5, 2, 4, 6, 1])
    rows = rows_for({1: (0, 9), 2: (5, 14), 3: (20, 30), 4: (0, 3), 5: (40, 41), 6: (25, 26)})
    record = build(features, rows, aggregation="topk_mean", topk=4, threshold=-0.2, histogram_bins=8)
    write_similarity(tmp_path / "s.json", record)
    back = read_similarity(tmp_path / "s.json")
    assert back.track_ids == [1, 2, 3, 4, 5, 6] and back.aggregation == "topk_mean" and back.params == {"topk": 4}
    np.testing.assert_allclose(back.matrix, similarity.aggregate(features, "topk_mean", 4), atol=1e-6)
    assert back.cooccurrence[0, 1] == 5 and back.cooccurrence[0, 3] == 4 and back.cooccurrence[2, 5] == 2
    # pairs: every pair at or above the threshold, most similar first, with its co-occurrence
    upper = [(i + 1, j + 1) for i in range(6) for j in range(i + 1, 6) if back.matrix[i, j] >= -0.2]
    assert sorted((p.a, p.b) for p in back.pairs) == upper
    sims = [p.similarity for p in back.pairs]
    assert sims == sorted(sims, reverse=True)
    assert all(p.cooccurrence == back.cooccurrence[p.a - 1, p.b - 1] for p in back.pairs)
    d = back.distribution
    off = back.matrix[np.triu_indices(6, 1)]
    assert d.count == 15 and sum(d.histogram_counts) == 15 and len(d.histogram_edges) == 9
    assert (
        d.min == pytest.approx(off.min()) and d.max == pytest.approx(off.max()) and d.mean == pytest.approx(off.mean())
    )
    assert d.histogram_edges[0] == -1.0 and d.histogram_edges[-1] == 1.0


@pytest.mark.parametrize("counts", [[], [1], [4]], ids=["0 tracks", "1 track, 1 crop", "1 track"])
def test_degenerate_inputs_give_valid_files(tmp_path, counts):
    features = unit_tracks(np.random.default_rng(9), counts)
    rows = rows_for({t: (0, 4) for t in range(1, len(counts) + 1)})
    for aggregation in AGGREGATIONS:
        record = build(features, rows, aggregation=aggregation)
        write_similarity(tmp_path / "s.json", record)
        back = read_similarity(tmp_path / "s.json")
        assert back.matrix.shape == back.cooccurrence.shape == (len(counts), len(counts))
        assert back.pairs == [] and back.distribution.count == 0 and back.distribution.mean is None
        assert sum(back.distribution.histogram_counts) == 0


@pytest.mark.parametrize(
    "ids, features, message",
    [
        (
            [4, 9, 2],
            [(3, 24), (0, 24), (2, 24)],
            "results/v/features.h5: track(s) 9 have no crop features; delete it and run `snakemake` again, which rebuilds it",
        ),
        ([4, 9, 4], [(3, 24), (1, 24), (2, 24)], "results/v/features.h5: track id(s) 4 listed more than once"),
        (
            [4, 9, 2],
            [(3, 24), (1, 16), (2, 24)],
            "track 4 has (3, 24), but track(s) 9 (1, 16); delete it and run `snakemake` again, which rebuilds it",
        ),
    ],
)
def test_bad_features_name_the_file_and_the_tracks(ids, features, message):
    rng = np.random.default_rng(10)
    matrices = [unit_tracks(rng, [k], d)[0] if k else np.zeros((0, d), np.float32) for k, d in features]
    with pytest.raises(SimilarityError) as err:
        similarity.build_similarity("v", ids, matrices, rows_for({}), features_file="results/v/features.h5")
    assert message in str(err.value)
