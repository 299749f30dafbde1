"""Snakemake adapter for rule ``crops``: see reidflow.crops."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import crops, runtime
from reidflow.formats.tracks import read_tracks


def main(smk):
    settings = crops.CropSettings.from_config(smk.params.crops)
    tracks = read_tracks(smk.input.tracks)
    crops.extract_crops(smk.input.video, tracks, settings, smk.output.crops, smk.wildcards.video)


runtime.run(snakemake, main)  # noqa: F821
