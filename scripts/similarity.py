"""Snakemake adapter for rule ``similarity``: see reidflow.similarity."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import runtime, similarity
from reidflow.formats.crops import read_crop_frames
from reidflow.formats.features import read_features
from reidflow.formats.similarity import write_similarity
from reidflow.formats.tracks import read_tracks

log = logging.getLogger("reidflow")


def main(smk):
    settings = similarity.SimilaritySettings.from_config(smk.params.similarity)
    features = read_features(smk.input.features)
    tracks = read_tracks(smk.input.tracks)
    record = similarity.build_similarity(
        smk.wildcards.video,
        features.track_ids,
        list(features.by_track.values()),
        tracks.rows,
        settings,
        features_file=smk.input.features,
        crop_frames=read_crop_frames(smk.input.crops, features.track_ids),
    )
    write_similarity(smk.output.similarity, record)
    d = record.distribution
    for cut in record.cuts:
        swapped = "" if cut.crossing is None else f", where it swapped people with track {cut.crossing}"
        log.info(
            "track %d cut at frame %d (cosine %.3f)%s: piece %d", cut.track, cut.frame, cut.cosine, swapped, cut.piece
        )
    log.info(
        "%d tracks, %d pairs >= %.2f; off-diagonal %s: mean %s, std %s",
        len(record.track_ids),
        len(record.pairs),
        record.threshold,
        record.aggregation,
        d.mean,
        d.std,
    )


runtime.run(snakemake, main)  # noqa: F821
