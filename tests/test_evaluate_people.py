"""Rule evaluate_people on real data: the cross-video links of people.json (the vtest clip cut in two videos,
tests/test_workflow_people.py's ``two_halves``) scored against the ground truth and the persons file.

The expected numbers are recomputed here from the files alone (identities.npz, the gt text, the persons csv,
people.json), with code of this test, not with reidflow.evaluate."""

from __future__ import annotations

import csv
import json
from collections import Counter
from itertools import combinations

import numpy as np
import pytest
from conftest import iou
from scipy.optimize import linear_sum_assignment
from test_workflow_people import two_halves  # noqa: F401  a fixture

from reidflow.formats.evaluation import read_people_evaluation

pytestmark = pytest.mark.slow


def identity_people(identities_npz, gt_txt, persons_csv, threshold: float = 0.5) -> dict[str, str]:
    """Identity id -> the person its boxes match most often: per frame, boxes of every track paired one to
    one with ground-truth boxes at IoU >= threshold, maximising the summed IoU; a tie: the first name."""
    with np.load(identities_npz) as data:
        frames, identity, boxes = data["frames"], data["identity_ids"], data["boxes"].astype(np.float64)
    table = np.loadtxt(gt_txt, delimiter=",", ndmin=2)
    table = table[table[:, 6] != 0]
    gt_frames, gt_ids = table[:, 0].astype(int) - 1, table[:, 1].astype(int)
    gt_boxes = np.c_[table[:, 2:4], table[:, 2:4] + table[:, 4:6]]
    with open(persons_csv) as fh:
        person = {int(row["gt_id"]): row["person"] for row in csv.DictReader(fh)}
    votes: Counter = Counter()
    for f in np.unique(gt_frames):
        mine, theirs = np.flatnonzero(frames == f), np.flatnonzero(gt_frames == f)
        if len(mine) == 0:
            continue
        overlap = iou(gt_boxes[theirs], boxes[mine])
        overlap[overlap < threshold] = 0
        rows, cols = linear_sum_assignment(overlap, maximize=True)
        for r, c in zip(rows, cols):
            if overlap[r, c] > 0 and identity[mine[c]] >= 0:
                votes[int(identity[mine[c]]), person[int(gt_ids[theirs[r]])]] += 1
    best: dict[str, str] = {}
    for (ident, name), _ in sorted(votes.items(), key=lambda kv: (-kv[1], kv[0][1])):
        best.setdefault(str(ident), name)
    return best


def test_cross_video_links_against_the_ground_truth(two_halves):  # noqa: F811
    two_halves.snakemake()  # up to date unless a test before this one changed the run
    results = two_halves.path / "results"
    path = results / "people" / "evaluation.json"
    assert path.is_file(), "rule all builds it: two videos have gt and persons"
    record = read_people_evaluation(path)
    sheet = {
        line.split("\t")[0]: line.rstrip("\n").split("\t")
        for line in (two_halves.path / "config" / "videos.tsv").open()
    }
    assert record.videos == ["a", "b"]

    labels = {}
    for video in ("a", "b"):
        _, _, gt, persons = sheet[video]
        found = identity_people(results / video / "identities.npz", gt, persons, record.iou_threshold)
        labels.update({f"{video}:{k}": v for k, v in found.items()})
    assert {k: v for k, v in record.labels.items() if v is not None} == labels

    people = json.loads((results / "people" / "people.json").read_text())
    person_of = {f"{a['video']}:{a['identity']}": p["id"] for p in people["people"] for a in p["appearances"]}
    assert set(record.labels) == set(person_of), "every identity of both videos is listed"
    predicted = actual = true = 0
    for x, y in combinations(sorted(labels), 2):
        if x.split(":")[0] == y.split(":")[0]:
            continue  # links across videos only
        same_person, same_truth = person_of[x] == person_of[y], labels[x] == labels[y]
        predicted += same_person
        actual += same_truth
        true += same_person and same_truth
    assert actual > 0 and predicted > 0, "the two halves share people and reidflow links some"
    links = record.links
    assert (links["true_pairs"], links["predicted"], links["actual"]) == (true, predicted, actual)
    assert links["precision"] == pytest.approx(true / predicted) and links["recall"] == pytest.approx(true / actual)
    assert links["scored"] == len(labels) and links["unscored"] == len(person_of) - len(labels)
    # no link joins two people (the README's 5 of 5 links is this run's figure; recall may vary with models)
    assert links["precision"] == 1.0 and links["recall"] >= 0.5

    # the per-video evaluation scores per person too, since the sheet gives persons
    evaluation = json.loads((results / "a" / "evaluation.json").read_text())
    assert evaluation["persons"] == sheet["a"][3] and evaluation["merged_persons"]["hota"] > 0
