"""Snakemake adapter for rule ``annotate``: see reidflow.annotate."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import runtime
from reidflow.annotate import annotate_video, person_boxes
from reidflow.formats.identities import read_identities
from reidflow.formats.people import read_people
from reidflow.formats.tracks import read_tracks


def main(smk):
    boxes = person_boxes(read_identities(smk.input.identities), read_people(smk.input.people), smk.input.people)
    stride = read_tracks(smk.input.tracks).meta.vid_stride
    annotate_video(smk.input.video, boxes, smk.output.video, vid_stride=stride, threads=smk.threads)


runtime.run(snakemake, main)  # noqa: F821
