"""Snakemake adapter for rule ``features``: see reidflow.features."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import assets, features, formats, gpu, runtime


def main(smk):
    p = smk.params.features
    weights = smk.input.weights
    weights_sha256 = assets.verify_for_job(weights, smk.params.weights_name, Path(smk.scriptdir).parent)
    # a GPU job on a workstation runs on a device of its own (reidflow.gpu); CPU jobs are untouched
    with gpu.job_device(p["device"], gpu_job=smk.resources.get("gpu", 0) > 0) as device:
        batch_size = smk.config["features"]["batch_size"]  # not a param: results do not depend on it
        settings = features.FeatureSettings.for_model(**{**p, "device": device, "batch_size": batch_size})
        result = features.extract_features(smk.input.crops, weights, weights_sha256, settings, smk.threads)
    formats.write_features(smk.output.features, result)


runtime.run(snakemake, main)  # noqa: F821
