"""Snakemake adapter for rule ``people``: see reidflow.people."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import people, runtime
from reidflow.formats.people import write_people
from reidflow.settings import PeopleSettings

log = logging.getLogger("reidflow")


def main(smk):
    i = smk.input
    videos = [
        people.read_video(video, *files)
        for video, *files in zip(smk.params.videos, i.tracks, i.crops, i.features, i.clusters)
    ]
    record = people.build_people(
        videos,
        PeopleSettings.from_config(smk.params.people),
        people.CrossVideoOverrides.from_param(smk.params.overrides),
        # for messages only: a param would rerun people when the file is renamed
        overrides_file=smk.config["cluster"]["overrides"],
    )
    write_people(smk.output.people, record)
    identities = sum(len(p.appearances) for p in record.people)
    across = sum(len(p.videos) > 1 for p in record.people)
    log.info(
        "%d videos, %d identities -> %d people (%d in more than one video), %d recommendations",
        len(videos),
        identities,
        len(record.people),
        across,
        len(record.recommendations),
    )


runtime.run(snakemake, main)  # noqa: F821
