"""Snakemake adapter for rule ``download_model``: fetch a registry file, verified and atomic."""

import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from reidflow import assets, runtime


def main(smk):
    log = logging.getLogger("reidflow").info
    assets.fetch(smk.output.model, smk.params.url, smk.params.sha256, log=log)
    # a registry file without an official hash is recorded now, on first fetch, and checked from then on
    assets.verify_for_job(smk.output.model, smk.wildcards.model_file, Path(smk.scriptdir).parent)


runtime.run(snakemake, main)  # noqa: F821
