"""Snakemake adapter for rule ``cluster``: see reidflow.cluster."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import cluster, runtime
from reidflow.formats.clusters import write_clusters
from reidflow.formats.similarity import read_similarity
from reidflow.formats.tracks import read_tracks
from reidflow.overrides import Overrides

log = logging.getLogger("reidflow")


def main(smk):
    tracks = read_tracks(smk.input.tracks)
    record = cluster.build_clusters(
        read_similarity(smk.input.similarity),
        tracks.rows,
        cluster.ClusterSettings.from_config(smk.params.cluster),
        Overrides.from_param(smk.params.overrides),
        # for messages only: a param would rerun every video's clustering when the file is renamed
        overrides_file=smk.config["cluster"]["overrides"],
        similarity_file=smk.input.similarity,
        info=tracks.meta.info,
    )
    write_clusters(smk.output.clusters, record)
    kept = sum(len(i.members) for i in record.identities)
    log.info(
        "%d tracks -> %d identities, %d merges (%d by a person), %d recommendations, %d flagged as not a person",
        kept,
        len(record.identities),
        len(record.merges),
        sum(m.decided_by == "person" for m in record.merges),
        len(record.recommendations),
        len(record.flagged),
    )


runtime.run(snakemake, main)  # noqa: F821
