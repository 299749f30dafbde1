"""reidflow.people: candidate pairs, sparse constrained average linkage, crop selection."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reidflow import people
from reidflow.cluster import agglomerate


def clustered_means(
    rng: np.random.Generator, persons: int, per_person: int, dim: int = 32, noise: float = 0.35
) -> tuple[np.ndarray, np.ndarray]:
    centres = rng.normal(size=(persons, dim))
    truth = np.repeat(np.arange(persons), per_person)
    x = centres[truth] + noise * rng.normal(size=(len(truth), dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32), truth


def dense_candidates(means: np.ndarray) -> people.Candidates:
    n = len(means)
    a, b = np.triu_indices(n, 1)
    return people.Candidates(a, b, np.einsum("ij,ij->i", means[a], means[b]).astype(np.float32))


def test_candidates_are_each_rows_top_k(tmp_path):
    rng = np.random.default_rng(0)
    means, _ = clustered_means(rng, 20, 5)
    k = 4
    c = people.candidate_pairs(means, neighbours=k, block=7)  # blocks that do not divide N
    sims = means @ means.T
    np.fill_diagonal(sims, -np.inf)
    pairs = set(zip(c.left.tolist(), c.right.tolist()))
    for i in range(len(means)):
        for j in np.argsort(-sims[i])[:k]:
            assert (min(i, j), max(i, j)) in pairs
    assert all(a < b for a, b in pairs)
    assert len(pairs) == len(c.left)
    np.testing.assert_allclose(c.similarity, sims[c.left, c.right], rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000), persons=st.integers(1, 12), per_person=st.integers(1, 6), threshold=st.floats(0.2, 0.8)
)
def test_with_every_pair_a_candidate_it_equals_dense_constrained_average_linkage(seed, persons, per_person, threshold):
    rng = np.random.default_rng(seed)
    means, _ = clustered_means(rng, persons, per_person)
    n = len(means)
    cannot = [(int(a), int(b)) for a, b in rng.integers(0, n, size=(n // 3, 2)) if a != b]
    labels, _ = people.link_people(n, dense_candidates(means), threshold, cannot_link=cannot)
    matrix = np.zeros((n, n), dtype=bool)
    for a, b in cannot:
        matrix[a, b] = matrix[b, a] = True
    expected, _ = agglomerate(1.0 - means @ means.T, matrix, "average", 1.0 - threshold)
    assert labels.tolist() == expected.tolist()


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6))
def test_cannot_linked_identities_never_share_a_person(seed, k):
    rng = np.random.default_rng(seed)
    means, _ = clustered_means(rng, 6, 5, noise=0.8)
    n = len(means)
    cannot = [(int(a), int(b)) for a, b in rng.integers(0, n, size=(n, 2)) if a != b]
    labels, links = people.link_people(n, people.candidate_pairs(means, k), 0.0, cannot_link=cannot)
    assert all(labels[a] != labels[b] for a, b in cannot)
    assert all(link.similarity > 0.0 for link in links)


def test_sparse_candidates_find_the_people_of_well_separated_data():
    rng = np.random.default_rng(1)
    means, truth = clustered_means(rng, 50, 4, dim=64, noise=0.3)
    labels, _ = people.link_people(len(means), people.candidate_pairs(means, neighbours=5), threshold=0.5)
    # one label per true person and no label across two people
    assert len(set(labels.tolist())) == 50
    for label in set(labels.tolist()):
        assert len(set(truth[labels == label].tolist())) == 1


def test_missing_pairs_count_as_unlike():
    # 0-1 and 1-2 are alike, 0-2 is no candidate: after 0+1 merge, 2 joins only if the mean
    # over both pairs (0.9 + 0) / 2 clears the threshold.
    c = people.Candidates(np.array([0, 1]), np.array([1, 2]), np.array([0.95, 0.9], dtype=np.float32))
    assert people.link_people(3, c, threshold=0.5)[0].tolist() == [0, 0, 1]
    assert people.link_people(3, c, threshold=0.4)[0].tolist() == [0, 0, 0]


def test_forced_merges_come_first_and_refuse_cannot_links():
    c = people.Candidates(np.array([0]), np.array([1]), np.array([0.1], dtype=np.float32))
    labels, links = people.link_people(3, c, threshold=0.5, forced=[(0, 2)])
    assert labels.tolist() == [0, 1, 0] and links[0].forced
    with pytest.raises(people.PeopleError, match="must stay apart"):
        people.link_people(3, c, threshold=0.5, forced=[(0, 2)], cannot_link=[(2, 0)])


def test_best_crops_picks_by_rank_across_tracks_in_crop_order():
    a = np.arange(4, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    b = 10 + np.arange(3, dtype=np.float32)[:, None] * np.ones((1, 2), np.float32)
    chosen = people.best_crops([a, b], [np.array([3, 1, 4, 2]), np.array([1, 5, 2])], max_crops=4)
    # rank 1s (a[1], b[0]), rank 2s (a[3], b[2]) in crop order
    assert chosen[:, 0].tolist() == [1.0, 3.0, 10.0, 12.0]
    with pytest.raises(people.PeopleError, match="max_crops"):
        people.best_crops([a], [np.arange(4)], 0)


def test_degenerate_sizes():
    empty = people.candidate_pairs(np.zeros((0, 8), np.float32), 5)
    assert len(empty.left) == 0
    assert people.link_people(0, empty, 0.5)[0].tolist() == []
    one = people.candidate_pairs(np.ones((1, 8), np.float32), 5)
    assert people.link_people(1, one, 0.5)[0].tolist() == [0]


def video_of(
    name: str, rng: np.random.Generator, looks: list[np.ndarray], spans: list[tuple[int, int]]
) -> people.VideoIdentities:
    """One identity per look, each one track (id 1, 2, ...) present over its span of frames; identities whose
    spans overlap are recorded as seen together (``Clusters.apart``), as the cluster stage records them."""
    from helpers_identities import rows_for

    from reidflow.formats.clusters import Clusters, Identity

    tracks = {
        t: people.TrackCropFeatures(
            features=np.asarray([look / np.linalg.norm(look)] * 4, dtype=np.float32)
            + 0.01 * rng.standard_normal((4, len(look))).astype(np.float32),
            rank=np.arange(1, 5),
            quality=np.linspace(0.9, 0.6, 4),
            frames=np.arange(span[0], span[0] + 4),
        )
        for t, (look, span) in enumerate(zip(looks, spans), start=1)
    }
    identities = [Identity(id=t, members=[t], representative=t, frames_covered=0, mean_similarity=None) for t in tracks]
    together = [
        [a, b]
        for a, (first_a, last_a) in enumerate(spans, start=1)
        for b, (first_b, last_b) in enumerate(spans, start=1)
        if a < b and first_a <= last_b and first_b <= last_a
    ]
    clusters = Clusters(
        video=name,
        params={"cooccurrence_veto": 1},
        overrides={},
        identities=identities,
        merges=[],
        recommendations=[],
        apart=together,
    )
    rows = rows_for(dict(enumerate(spans, start=1))) if spans else rows_for({})
    return people.VideoIdentities(name, 10.0, clusters, tracks, rows)


def test_build_people_degenerate_sheets():
    rng = np.random.default_rng(0)
    look = rng.standard_normal(16)
    assert people.build_people([]).people == []
    empty = video_of("empty", rng, [], [])
    record = people.build_people([empty])
    assert record.people == [] and record.links == [] and record.videos == ["empty"]
    one = people.build_people([video_of("one", rng, [look], [(0, 9)]), empty])
    assert [[a.key for a in p.appearances] for p in one.people] == [["one:1"]]
    assert one.people[0].appearances[0].first_time == 0.0 and one.people[0].appearances[0].last_time == 0.9


def test_build_people_joins_across_videos_but_never_identities_seen_together():
    rng = np.random.default_rng(1)
    alice, bob = rng.standard_normal(16), rng.standard_normal(16)
    # video x shows Alice twice at once (two identities in the same frames) and Bob; video y shows Alice
    x = video_of("x", rng, [alice, alice, bob], [(0, 9), (5, 14), (20, 29)])
    y = video_of("y", rng, [alice], [(0, 9)])
    record = people.build_people([x, y])
    person_of = record.person_of()
    assert person_of["x:1"] != person_of["x:2"], "two identities in the same frame are two people"
    assert person_of["y:1"] in (person_of["x:1"], person_of["x:2"])
    assert person_of["x:3"] not in (person_of["x:1"], person_of["x:2"])
    rec = {frozenset((r.a, r.b)): r.reason for r in record.recommendations}
    assert rec[frozenset(("x:1", "x:2"))] == "seen_together"
    with pytest.raises(people.PeopleError, match="no track 99"):
        people.build_people([x, y], overrides=people.CrossVideoOverrides(merge=(("x:track:99", "y:identity:1"),)))
    with pytest.raises(people.PeopleError, match="must stay apart"):
        people.build_people([x, y], overrides=people.CrossVideoOverrides(merge=(("x:track:1", "x:identity:2"),)))
