"""Snakemake adapter for rule ``evaluate``: see reidflow.evaluate."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import evaluate, runtime
from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import write_evaluation
from reidflow.formats.identities import read_identities
from reidflow.formats.mot import read_mot
from reidflow.formats.persons import read_persons
from reidflow.formats.tracks import read_tracks

log = logging.getLogger("reidflow")


def main(smk):
    tracks = read_tracks(smk.input.tracks)
    persons_file = smk.input.get("persons")  # the sheet's optional persons column
    record = evaluate.evaluate_identities(
        smk.wildcards.video,
        read_mot(smk.input.gt),
        tracks.rows,
        read_clusters(smk.input.clusters),
        evaluate.EvaluateSettings.from_config(smk.params.evaluate),
        ground_truth=smk.input.gt,
        vid_stride=tracks.meta.vid_stride,
        frame_count=tracks.meta.info.frame_count,
        persons=read_persons(persons_file) if persons_file else None,
        persons_file=persons_file or "",
        filled=read_identities(smk.input.identities).filled,
    )
    write_evaluation(smk.output.evaluation, record)
    scored = [("raw tracks", record.raw), ("identities", record.merged), ("identity pairs", record.pairs)]
    if record.persons:
        scored += [
            ("raw tracks per person", record.raw_persons),
            ("identities per person", record.merged_persons),
            ("identity pairs per person", record.pairs_persons),
        ]
    for name, scores in scored:
        log.info("%s: %s", name, ", ".join(f"{k} {v}" for k, v in (scores or {}).items()))


runtime.run(snakemake, main)  # noqa: F821
