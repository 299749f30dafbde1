"""Snakemake adapter for rule ``report_index``: see reidflow.report.index."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import runtime
from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import read_evaluation
from reidflow.formats.people import read_people
from reidflow.formats.tracks import read_tracks
from reidflow.report.index import video_summary, write_decisions_script, write_index, write_people_script


def main(smk):
    evaluations = dict(zip(smk.params.with_gt, smk.input.evaluations))
    summaries = [
        video_summary(
            read_tracks(tracks),
            read_clusters(clusters),
            read_evaluation(evaluations[video]) if video in evaluations else None,
        )
        for video, tracks, clusters in zip(smk.params.videos, smk.input.tracks, smk.input.clusters)
    ]
    people = read_people(smk.input.people)
    write_index(summaries, dict(smk.params.settings), people, smk.output.html)
    write_people_script(people, smk.output.people_js)
    decisions = smk.params.decisions
    write_decisions_script(
        decisions["path"], list(smk.params.videos), decisions["videos"], decisions["people"], smk.output.decisions_js
    )


runtime.run(snakemake, main)  # noqa: F821
