"""Snakemake adapter for rule ``select_people``: see reidflow.selected."""

import contextlib
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import runtime, selected
from reidflow.formats.clusters import read_clusters
from reidflow.formats.identities import read_identities
from reidflow.formats.people import read_people
from reidflow.piece_crops import PieceCrops

log = logging.getLogger("reidflow")


def main(smk):
    catalogue = read_people(smk.input.people)
    # only the videos a selected person appears in are read
    wanted = {v for p in catalogue.people if p.selected for v in p.videos}
    files = {
        video: (ids, crops, clusters)
        for video, ids, crops, clusters in zip(
            smk.params.videos, smk.input.identities, smk.input.crops, smk.input.clusters
        )
        if video in wanted
    }
    with contextlib.ExitStack() as stack:
        readers = {
            # the identities' tracks are pieces (cut at identity switches, clusters.json cuts)
            video: stack.enter_context(PieceCrops(crops, read_clusters(clusters).cuts))
            for video, (_, crops, clusters) in files.items()
        }
        identities = {video: read_identities(ids) for video, (ids, _, _) in files.items()}
        exported = selected.export_selected(smk.output.selected, catalogue, identities, readers, smk.params.max_crops)
    log.info("%d selected people exported: %s", len(exported), ", ".join(map(str, exported)) or "none")


runtime.run(snakemake, main)  # noqa: F821
