"""Snakemake adapter for rule ``features``: see reidflow.features."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821  the workflow's own reidflow

from reidflow import assets, backends, features, gpu, runtime
from reidflow.formats.features import write_features


def main(smk):
    weights = smk.input.weights
    weights_sha256 = assets.verify_for_job(weights, smk.params.weights_name, Path(smk.scriptdir).parent)
    gpu_job = smk.resources.get("gpu", 0) > 0
    # a GPU job on a workstation runs on a device of its own (reidflow.gpu); CPU jobs are untouched
    with gpu.job_device(smk.params.features["device"], gpu_job) as device:
        # batch_size is not a param: results do not depend on it
        batch_size = smk.config["features"]["batch_size"]
        settings = features.FeatureSettings.from_config(smk.params.features, device=device, batch_size=batch_size)
        result = features.extract_features(
            smk.input.crops,
            weights,
            weights_sha256,
            settings,
            smk.threads,
            gpu=backends.job_gpu(smk.resources.get("gpu", 0)),
        )
    write_features(smk.output.features, result)


runtime.run(snakemake, main)  # noqa: F821
