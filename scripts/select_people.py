"""Snakemake adapter for rule ``select_people``: see reidflow.selected."""

import contextlib
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import runtime, selected
from reidflow.formats.crops import CropsReader
from reidflow.formats.identities import read_identities
from reidflow.formats.people import read_people

log = logging.getLogger("reidflow")


def main(smk):
    catalogue = read_people(smk.input.people)
    # only the videos a selected person appears in are read
    wanted = {v for p in catalogue.people if p.selected for v in p.videos}
    files = {
        video: (ids, crops)
        for video, ids, crops in zip(smk.params.videos, smk.input.identities, smk.input.crops)
        if video in wanted
    }
    with contextlib.ExitStack() as stack:
        readers = {video: stack.enter_context(CropsReader(crops)) for video, (_, crops) in files.items()}
        identities = {video: read_identities(ids) for video, (ids, _) in files.items()}
        exported = selected.export_selected(smk.output.selected, catalogue, identities, readers, smk.params.max_crops)
    log.info("%d selected people exported: %s", len(exported), ", ".join(map(str, exported)) or "none")


runtime.run(snakemake, main)  # noqa: F821
