"""Snakemake adapter for rule ``export_detector``: ONNX export of the YOLO weights, offline."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(snakemake.scriptdir).parent))  # noqa: F821

from reidflow import assets, runtime, track


def main(smk):
    assets.verify_for_job(smk.input.weights, smk.params.weights_name, Path(smk.scriptdir).parent)
    track.export_onnx(smk.input.weights, smk.output.onnx, imgsz=smk.params.imgsz)


runtime.run(snakemake, main)  # noqa: F821
