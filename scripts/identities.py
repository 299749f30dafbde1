"""Snakemake adapter for rule ``identities``: see reidflow.identities."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import identities, runtime
from reidflow.formats.clusters import read_clusters
from reidflow.formats.identities import write_identities
from reidflow.formats.tracks import read_tracks
from reidflow.settings import IdentitiesSettings

log = logging.getLogger("reidflow")


def main(smk):
    record = identities.label_detections(
        read_tracks(smk.input.tracks),
        read_clusters(smk.input.clusters),
        smk.params.min_track_frames,
        IdentitiesSettings.from_config(smk.params.identities),
    )
    write_identities(smk.output.npz, smk.output.txt, record)
    log.info(
        "%d detections, %d with an identity; %d tracks in none; %d boxes fill gaps",
        len(record.rows),
        int((record.identity_ids >= 0).sum()),
        len(record.unassigned),
        len(record.filled),
    )


runtime.run(snakemake, main)  # noqa: F821
