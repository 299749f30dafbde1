"""Snakemake adapter for rule ``report_index``: see reidflow.report."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import formats, report, runtime


def main(smk):
    evaluations = dict(zip(smk.params.with_gt, smk.input.evaluations))
    summaries = [
        report.video_summary(
            formats.read_tracks(tracks),
            formats.read_clusters(clusters),
            formats.read_evaluation(evaluations[video]) if video in evaluations else None,
        )
        for video, tracks, clusters in zip(smk.params.videos, smk.input.tracks, smk.input.clusters)
    ]
    report.write_index(summaries, dict(smk.params.settings), smk.output.html)


runtime.run(snakemake, main)  # noqa: F821
