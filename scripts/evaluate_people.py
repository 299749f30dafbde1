"""Snakemake adapter for rule ``evaluate_people``: see reidflow.evaluate.evaluate_people."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import evaluate, pieces, runtime
from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import write_people_evaluation
from reidflow.formats.mot import read_mot
from reidflow.formats.people import read_people
from reidflow.formats.persons import read_persons
from reidflow.formats.tracks import read_tracks

log = logging.getLogger("reidflow")


def main(smk):
    videos = list(smk.params.videos)
    if len(videos) < 2:
        raise evaluate.EvaluateError(
            "results/people/evaluation.json scores links across videos: give at least two videos of the sheet "
            f"both 'gt' and 'persons' (now: {', '.join(videos) or 'none'})"
        )
    settings = evaluate.EvaluateSettings.from_config(smk.params.evaluate)
    truths = {}
    for k, video in enumerate(videos):
        tracks = read_tracks(smk.input.tracks[k])
        gt_file, persons_file = smk.input.gt[k], smk.input.persons[k]
        gt = read_mot(gt_file)
        clusters = read_clusters(smk.input.clusters[k])
        truths[video] = evaluate.VideoTruth(
            gt=gt,
            persons=read_persons(persons_file),
            rows=pieces.split_rows(tracks.rows, clusters.cuts),  # identities are made of pieces
            identity_of=clusters.identity_of(),
            frames=evaluate.evaluation_frames(video, gt, gt_file, tracks.meta.vid_stride, tracks.meta.info.frame_count),
            ground_truth=gt_file,
            persons_file=persons_file,
        )
    record = evaluate.evaluate_people(read_people(smk.input.people).person_of(), truths, settings.iou_threshold)
    write_people_evaluation(smk.output.evaluation, record)
    log.info("cross-video links: %s", ", ".join(f"{k} {v}" for k, v in record.links.items()))


runtime.run(snakemake, main)  # noqa: F821
