"""Snakemake adapter for rule ``report``: see reidflow.report.video."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import runtime
from reidflow.formats.clusters import read_clusters
from reidflow.formats.evaluation import read_evaluation
from reidflow.formats.features import read_features_meta
from reidflow.formats.similarity import read_similarity
from reidflow.formats.tracks import read_tracks
from reidflow.report.images import ReportSettings
from reidflow.report.video import VideoRecords, write_video_report


def main(smk):
    evaluation = smk.input.get("evaluation")
    records = VideoRecords(
        tracks=read_tracks(smk.input.tracks),
        features=read_features_meta(smk.input.features),
        similarity=read_similarity(smk.input.similarity),
        clusters=read_clusters(smk.input.clusters),
        evaluation=read_evaluation(evaluation) if evaluation else None,
    )
    names = {key: str(getattr(smk.input, key)) for key in ("features", "similarity", "clusters", "crops")}
    if evaluation:
        names["evaluation"] = str(evaluation)
    settings = ReportSettings.from_config(smk.params.report)
    write_video_report(records, smk.input.crops, smk.output.html, smk.output.webp, settings, names)


runtime.run(snakemake, main)  # noqa: F821
