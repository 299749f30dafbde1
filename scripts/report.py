"""Snakemake adapter for rule ``report``: see reidflow.report."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import formats, report, runtime


def main(smk):
    evaluation = smk.input.get("evaluation")
    records = report.VideoRecords(
        tracks=formats.read_tracks(smk.input.tracks),
        features=formats.read_features_meta(smk.input.features),
        similarity=formats.read_similarity(smk.input.similarity),
        clusters=formats.read_clusters(smk.input.clusters),
        evaluation=formats.read_evaluation(evaluation) if evaluation else None,
    )
    names = {key: str(getattr(smk.input, key)) for key in ("features", "similarity", "clusters", "crops")}
    if evaluation:
        names["evaluation"] = str(evaluation)
    settings = report.ReportSettings(**smk.params.report)
    report.write_video_report(records, smk.input.crops, smk.output.html, smk.output.webp, settings, names)


runtime.run(snakemake, main)  # noqa: F821
