"""Snakemake adapter for rule ``demo_video``: OpenCV's vtest.avi from opencv-doc or $REIDFLOW_SHARED, else
downloaded."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from reidflow import assets, runtime


def main(smk):
    log = logging.getLogger("reidflow").info
    assets.fetch(
        smk.output.video,
        smk.params.url,
        smk.params.sha256,
        local_copies=assets.demo_video_copies(),
        log=log,
        hint=assets.demo_video_hint(smk.output.video),
    )


runtime.run(snakemake, main)  # noqa: F821
