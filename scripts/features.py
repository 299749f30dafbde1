"""Snakemake adapter for rule ``features``: see reidflow.features."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import assets, features, formats, runtime


def main(smk):
    settings = features.FeatureSettings(**smk.params.features)
    weights = smk.input.weights
    result = features.extract_features(smk.input.crops, weights, assets.sha256_file(weights), settings, smk.threads)
    formats.write_features(smk.output.features, result)


runtime.run(snakemake, main)  # noqa: F821
