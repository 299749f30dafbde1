"""Snakemake adapter for rule ``evaluate``: see reidflow.evaluate."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import evaluate, runtime
from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import write_evaluation
from reidflow.formats.mot import read_mot
from reidflow.formats.tracks import read_tracks

log = logging.getLogger("reidflow")


def main(smk):
    tracks = read_tracks(smk.input.tracks)
    record = evaluate.evaluate_identities(
        smk.wildcards.video,
        read_mot(smk.input.gt),
        tracks.rows,
        read_clusters(smk.input.clusters),
        evaluate.EvaluateSettings.from_config(smk.params.evaluate),
        ground_truth=smk.input.gt,
        vid_stride=tracks.meta.vid_stride,
        frame_count=tracks.meta.info.frame_count,
    )
    write_evaluation(smk.output.evaluation, record)
    for name, scores in (("raw tracks", record.raw), ("identities", record.merged)):
        log.info("%s: %s", name, ", ".join(f"{k} {v}" for k, v in scores.items()))


runtime.run(snakemake, main)  # noqa: F821
