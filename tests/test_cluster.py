"""Stage 5: constrained agglomerative clustering, clusters.json, and a person's overrides."""

import re
from dataclasses import asdict

import numpy as np
import pytest
from helpers_identities import rows_for
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import AgglomerativeClustering

from reidflow import cluster, similarity
from reidflow.cluster import ClusterSettings, agglomerate
from reidflow.formats.clusters import read_clusters, write_clusters
from reidflow.formats.similarity import Similarity
from reidflow.overrides import Overrides, OverridesError, load_overrides, overrides_param


def same_partition(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return np.array_equal(a[:, None] == a[None, :], b[:, None] == b[None, :])


def random_distance(rng, n):
    points = rng.standard_normal((n, 4))
    return np.linalg.norm(points[:, None] - points[None], axis=-1)


def random_threshold(rng, distance, quantile):
    """A random threshold near a quantile of the pair distances: no linkage value sits exactly on it."""
    values = distance[np.triu_indices(len(distance), 1)]
    return np.quantile(values, quantile) * rng.uniform(0.97, 1.03)


def reference_clustering(distance, cannot_link, linkage, threshold, forced=()):
    """The definition, recomputed from scratch at every step: merge the closest allowed pair of clusters."""
    reduce = {"average": np.mean, "complete": np.max, "single": np.min}[linkage]
    clusters = [[i] for i in range(len(distance))]
    for i, j in forced:
        p, q = (next(k for k, c in enumerate(clusters) if x in c) for x in (i, j))
        if p != q:
            clusters[p] += clusters[q]
            del clusters[q]
    while True:
        best = None
        for p in range(len(clusters)):
            for q in range(p + 1, len(clusters)):
                cross = np.ix_(clusters[p], clusters[q])
                if cannot_link[cross].any():
                    continue
                d = reduce(distance[cross])
                if best is None or d < best[0]:
                    best = (d, p, q)
        if best is None or not best[0] < threshold:
            break
        _, p, q = best
        clusters[p] += clusters.pop(q)
    labels = np.empty(len(distance), dtype=int)
    for k, members in enumerate(clusters):
        labels[members] = k
    return labels


@pytest.mark.parametrize("linkage", cluster.LINKAGES)
def test_without_vetoes_equals_scikit_learn(linkage):
    rng = np.random.default_rng(0)
    for n in (2, 3, 10, 40):
        for quantile in (0.1, 0.3, 0.6):
            distance = random_distance(rng, n)
            threshold = random_threshold(rng, distance, quantile)
            labels, steps = agglomerate(distance, np.zeros((n, n), bool), linkage, threshold)
            expected = (
                AgglomerativeClustering(
                    n_clusters=None, metric="precomputed", linkage=linkage, distance_threshold=threshold
                )
                .fit(distance)
                .labels_
            )
            assert same_partition(labels, expected), (n, quantile)
            assert len(steps) == n - (labels.max() + 1)


@pytest.mark.parametrize("linkage", cluster.LINKAGES)
def test_with_vetoes_equals_the_definition(linkage):
    rng = np.random.default_rng(1)
    for trial in range(15):
        n = int(rng.integers(2, 25))
        distance = random_distance(rng, n)
        cannot = np.triu(rng.random((n, n)) < 0.15, 1)
        cannot |= cannot.T
        threshold = random_threshold(rng, distance, 0.5)
        labels, _ = agglomerate(distance, cannot, linkage, threshold)
        assert same_partition(labels, reference_clustering(distance, cannot, linkage, threshold)), trial
        assert cluster.violations(labels, cannot) == []


@pytest.mark.parametrize("linkage", cluster.LINKAGES)
def test_forced_merges_then_the_definition(linkage):
    rng = np.random.default_rng(2)
    for trial in range(15):
        n = int(rng.integers(3, 20))
        distance = random_distance(rng, n)
        cannot = np.triu(rng.random((n, n)) < 0.1, 1)
        cannot |= cannot.T
        forced = [(int(i), int(j)) for i, j in rng.integers(0, n, (3, 2)) if i != j]
        # drop forced pairs that would (with the ones before) join cannot-linked items
        groups = np.arange(n)
        allowed = []
        for i, j in forced:
            trial_groups = np.where(groups == groups[j], groups[i], groups)
            members = np.flatnonzero(trial_groups == groups[i])
            if not cannot[np.ix_(members, members)].any():
                groups = trial_groups
                allowed.append((i, j))
        threshold = random_threshold(rng, distance, 0.4)
        labels, steps = agglomerate(distance, cannot, linkage, threshold, allowed)
        expected = reference_clustering(distance, cannot, linkage, threshold, allowed)
        assert same_partition(labels, expected), trial
        assert sum(s.forced for s in steps) == n - len(np.unique(groups))  # one step per group joined
        assert all(s.forced for s in steps[: n - len(np.unique(groups))])  # and they come first


def test_veto_holds_for_whole_clusters():
    """a~b and b~c are close, a and c were seen together: b joins one of them, never both."""
    distance = np.array([[0, 0.1, 0.15], [0.1, 0, 0.1], [0.15, 0.1, 0]])
    cannot = np.zeros((3, 3), bool)
    cannot[0, 2] = cannot[2, 0] = True
    for linkage in cluster.LINKAGES:
        labels, steps = agglomerate(distance, cannot, linkage, 1.0)
        assert labels[0] != labels[2] and len(steps) == 1, linkage


def similarity_record(matrix, rows, ids=None):
    n = len(matrix)
    ids = list(range(1, n + 1)) if ids is None else ids
    cooc = similarity.cooccurrence(rows, ids)
    return Similarity("v", ids, "mean", {}, 0.5, np.asarray(matrix, float), cooc, [], similarity.distribution([], 4))


# Tracks 1..5: 1 and 2 seen together in frames 10-19; 1~3 very similar; 4 somewhat like 1 and 3; 5 unlike all.
SCENE = rows_for({1: (0, 19), 2: (10, 29), 3: (40, 69), 4: (70, 79), 5: (80, 84)})
SIMS = np.array(
    [
        [1.0, 0.9, 0.8, 0.6, 0.1],
        [0.9, 1.0, 0.7, 0.3, 0.1],
        [0.8, 0.7, 1.0, 0.55, 0.1],
        [0.6, 0.3, 0.55, 1.0, 0.2],
        [0.1, 0.1, 0.1, 0.2, 1.0],
    ]
)


def clusters_of(record):
    return sorted(sorted(i.members) for i in record.identities)


def test_clusters_record(tmp_path):
    record = cluster.build_clusters(similarity_record(SIMS, SCENE), SCENE)
    write_clusters(tmp_path / "c.json", record)
    back = read_clusters(tmp_path / "c.json")
    assert back == record
    assert back.params == asdict(ClusterSettings())
    assert {
        "linkage": "average",
        "distance_threshold": 0.35,
        "cooccurrence_veto": 1,
        "duplicate_overlap": 0.5,
        "spacetime": True,
        "nonperson": True,
    }.items() <= back.params.items()
    assert back.flagged == []
    assert back.overrides == {"merge": [], "split": []}
    first, *others = back.identities
    # longest seen first: track 3 (30 frames) before track 1 (20); identities by frames covered
    assert (first.id, first.members, first.representative, first.frames_covered) == (1, [3, 1], 3, 50)
    assert first.mean_similarity == pytest.approx(0.8) and first.decided_by == "clustering"
    assert [(i.id, i.members, i.frames_covered, i.mean_similarity) for i in others] == [
        (2, [2], 20, None),
        (3, [4], 10, None),
        (4, [5], 5, None),
    ]
    assert [(m.left, m.right, m.similarity, m.decided_by) for m in back.merges] == [([1], [3], 0.8, "clustering")]
    # 2~3 never co-occur, but 3's identity holds 1, seen with 2: the veto is the reason there too
    assert [(r.a, r.b, r.similarity, r.cooccurrence, r.reason) for r in back.recommendations] == [
        (1, 2, 0.9, 10, "cooccurrence_veto"),
        (2, 3, 0.7, 0, "cooccurrence_veto"),
        (1, 4, 0.6, 0, "below_threshold"),
        (3, 4, 0.55, 0, "below_threshold"),
    ]


def test_linkage_and_veto_settings_change_the_result():
    rows = SCENE
    single = cluster.build_clusters(
        similarity_record(SIMS, rows), rows, ClusterSettings(linkage="single", distance_threshold=0.42)
    )
    assert clusters_of(single) == [[1, 3, 4], [2], [5]]  # single: 4 joins at max(0.6, 0.55) = 0.6 > 0.58
    average = cluster.build_clusters(similarity_record(SIMS, rows), rows, ClusterSettings(distance_threshold=0.42))
    assert clusters_of(average) == [[1, 3], [2], [4], [5]]  # average: (0.6 + 0.55) / 2 = 0.575, not above 0.58
    tolerant = cluster.build_clusters(similarity_record(SIMS, rows), rows, ClusterSettings(cooccurrence_veto=11))
    assert clusters_of(tolerant) == [[1, 2, 3], [4], [5]]  # 10 shared frames are below a veto of 11


def test_overrides_merge_and_split():
    rows = SCENE
    merged = cluster.build_clusters(similarity_record(SIMS, rows), rows, overrides=Overrides(merge=((5, 4),)))
    assert clusters_of(merged) == [[1, 3], [2], [4, 5]]
    person = [m for m in merged.merges if m.decided_by == "person"]
    assert [(m.left, m.right, m.similarity) for m in person] == [([4], [5], 0.2)]
    assert {tuple(i.members): i.decided_by for i in merged.identities}[(4, 5)] == "person"
    assert merged.overrides == {"merge": [[5, 4]], "split": []}

    split = cluster.build_clusters(similarity_record(SIMS, rows), rows, overrides=Overrides(split=((3, 1),)))
    assert clusters_of(split) == [[1], [2, 3], [4], [5]]  # 2~3 (0.7) now merge: nothing forbids it
    reasons = {(r.a, r.b): r.reason for r in split.recommendations}
    assert reasons[(1, 3)] == "split_by_person" and reasons[(1, 2)] == "cooccurrence_veto"
    assert all(m.decided_by == "clustering" for m in split.merges)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            Overrides(merge=((1, 2),)),
            "tracks 1 and 2 into one identity, but they are seen together at different places in 10 frame",
        ),
        (Overrides(merge=((1, 3), (3, 2))), "tracks 1 and 2 into one identity"),
        (Overrides(merge=((1, 3),), split=((3, 1),)), "tracks 1 and 3 into one identity, but they are to be split"),
        (Overrides(split=((1, 99),)), "unknown track id(s) 99"),
    ],
)
def test_bad_overrides_are_errors_naming_file_and_tracks(overrides, message):
    with pytest.raises(OverridesError, match="^ovr.yaml: video 'v': ") as err:
        cluster.build_clusters(similarity_record(SIMS, SCENE), SCENE, overrides=overrides, overrides_file="ovr.yaml")
    assert message in str(err.value)


def test_load_overrides(tmp_path):
    path = tmp_path / "overrides.yaml"
    path.write_text("a:\n  merge: [[1, 2], [3, 4]]\n  split: [[5, 6]]\nb:\n  split:\n    - [7, 8]\nc: {}\n")
    found = load_overrides(path, ["a", "b", "c", "d"])
    assert found["a"] == Overrides(merge=((1, 2), (3, 4)), split=((5, 6),))
    assert overrides_param(found, "b") == {"merge": [], "split": [[7, 8]]}
    assert overrides_param(found, "d") == {"merge": [], "split": []}
    assert Overrides.from_param(overrides_param(found, "a")) == found["a"]
    assert load_overrides(None, ["a"]) == {}
    path.write_text("# only comments\n")
    assert load_overrides(path, ["a"]) == {}


def test_overrides_video_ids_are_the_text_as_written(tmp_path):
    """Plain YAML reads 001 and 1 both as the int 1, 1_0 as 10 and on/yes as True."""
    path = tmp_path / "overrides.yaml"
    path.write_text(
        "001:\n  merge: [[1, 2]]\n1:\n  split: [[3, 4]]\n1_0: {split: [[5, 6]]}\non: {merge: [[7, 8]]}\nyes: {}\n"
    )
    found = load_overrides(path, ["001", "1", "1_0", "10", "on", "yes"])
    assert found == {
        "001": Overrides(merge=((1, 2),)),
        "1": Overrides(split=((3, 4),)),
        "1_0": Overrides(split=((5, 6),)),
        "on": Overrides(merge=((7, 8),)),
        "yes": Overrides(),
    }
    with pytest.raises(OverridesError, match="video '001' is not in the video sheet"):
        load_overrides(path, ["1", "1_0", "on", "yes"])


@pytest.mark.parametrize(
    "text, message",
    [
        ("x:\n  merge: [[1, 2]]\n", "video 'x' is not in the video sheet"),
        ("a:\n  merge: [[1, 2, 3]]\n", "merge must be a list of [track_id, track_id] pairs"),
        ("a:\n  split: [[1, 1]]\n", "two different ids"),
        ("a:\n  join: [[1, 2]]\n", "expected keys merge and split (pairs of track ids) and ignore (track ids) only"),
        ("[1, 2]\n", "must be a mapping from video id"),
        ("a: [\n", "not valid YAML"),
        ("a: {}\na:\n  merge: [[1, 2]]\n", "the key 'a' appears twice"),
        ("? [a, b]\n: {}\n", "quote the video id"),
    ],
)
def test_bad_overrides_files(tmp_path, text, message):
    path = tmp_path / "overrides.yaml"
    path.write_text(text)
    with pytest.raises(OverridesError, match=str(path)) as err:
        load_overrides(path, ["a"])
    assert message in str(err.value)
    with pytest.raises(OverridesError, match="overrides file not found"):
        load_overrides(tmp_path / "missing.yaml", ["a"])


def test_repeated_track_ids_name_the_similarity_file():
    record = Similarity(
        "v", [1, 2, 1], "mean", {}, 0.5, np.eye(3), np.zeros((3, 3), int), [], similarity.distribution([], 4)
    )
    with pytest.raises(
        cluster.ClusterError,
        match=r"^results/v/similarity.json: track id\(s\) 1 listed more than once.*run `snakemake` again",
    ):
        cluster.build_clusters(record, SCENE, similarity_file="results/v/similarity.json")


@pytest.mark.parametrize("n", [0, 1])
def test_degenerate_inputs_give_valid_files(tmp_path, n):
    rows = rows_for({t: (0, 3) for t in range(1, n + 1)})
    record = cluster.build_clusters(similarity_record(np.eye(n), rows), rows)
    write_clusters(tmp_path / "c.json", record)
    back = read_clusters(tmp_path / "c.json")
    assert len(back.identities) == n and back.merges == [] and back.recommendations == []
    if n:
        assert back.identities[0].members == [1] and back.identities[0].frames_covered == 4


@st.composite
def scenes(draw):
    """Tracks with similarities from a few values (ties included), random lives, optional overrides."""
    n = draw(st.integers(0, 12))
    values = st.sampled_from([-0.3, 0.2, 0.5, 0.6, 0.66, 0.7, 0.8, 0.9, 0.99])
    sims = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            sims[i, j] = sims[j, i] = draw(values)
    lives = {t: (a, a + draw(st.integers(0, 6))) for t in range(1, n + 1) for a in [draw(st.integers(0, 20))]}
    pairs = st.tuples(st.integers(1, n), st.integers(1, n)).filter(lambda p: p[0] != p[1])
    split = tuple(draw(st.lists(pairs, max_size=3))) if n > 1 else ()
    merge = tuple(draw(st.lists(pairs, max_size=2))) if n > 1 else ()
    setting = ClusterSettings(
        linkage=draw(st.sampled_from(cluster.LINKAGES)),
        distance_threshold=draw(st.sampled_from([0.1, 0.35, 0.6, 2.0])),
        cooccurrence_veto=draw(st.integers(1, 3)),
        recommend_threshold=draw(st.sampled_from([0.0, 0.5])),
    )
    return sims, rows_for(lives), Overrides(merge=merge, split=split), setting


@settings(max_examples=150, deadline=None)
@given(scenes())
def test_no_identity_ever_holds_tracks_seen_together(scene):
    sims, rows, overrides, setting = scene
    record = similarity_record(sims, rows)
    n = len(record.track_ids)
    split = set(overrides.split) | {(b, a) for a, b in overrides.split}

    def must_be_apart(a, b):
        return record.cooccurrence[a - 1, b - 1] >= setting.cooccurrence_veto or (a, b) in split

    try:
        result = cluster.build_clusters(record, rows, setting, overrides)
    except OverridesError as err:  # only when a person's merges join two tracks that must stay apart
        a, b = map(int, re.search(r"tracks (\d+) and (\d+)", str(err)).groups())
        assert must_be_apart(a, b)
        return
    identity = result.identity_of()
    assert sorted(identity) == record.track_ids  # every track in exactly one identity
    assert sum(len(i.members) for i in result.identities) == n
    for i in range(n):
        for j in range(i + 1, n):
            a, b = record.track_ids[i], record.track_ids[j]
            if must_be_apart(a, b):
                assert identity[a] != identity[b], (a, b)
    assert all(identity[a] == identity[b] for a, b in overrides.merge)
    for r in result.recommendations:
        assert identity[r.a] != identity[r.b] and r.similarity >= setting.recommend_threshold
    assert len(result.merges) == n - len(result.identities)
