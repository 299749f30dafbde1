"""Export a torchreid model with local weights as an ONNX ReID file for ``features.model: onnx:<file>``.

BoxMOT's convention: float32 (N, 3, H, W) input normalised with ImageNet mean/std outside the model, raw
(N, D) features out (reidflow.appearance.network.export_onnx). Not a workflow rule: run it by hand, then
declare the file's sha256 in resources/models/SHA256SUMS like any weights of your own.

    .venv/bin/python scripts/export_reid_onnx.py osnet_x0_25 ../shared/models/osnet_x0_25_msmt17.pth \
        resources/models/osnet_x0_25_msmt17.onnx
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the workflow's own reidflow

from reidflow import assets
from reidflow.appearance import network, torchreid_models


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="torchreid architecture, e.g. osnet_x0_25")
    parser.add_argument("weights", type=Path, help="its weights file (a state dict)")
    parser.add_argument("out", type=Path, help="the .onnx file to write")
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--fixed-batch", action="store_true", help="a batch of 1 only, as some exports are")
    args = parser.parse_args(argv)
    module = torchreid_models.build_model(args.model, args.weights)
    path = network.export_onnx(module, args.out, (args.height, args.width), dynamic_batch=not args.fixed_batch)
    print(f"wrote {path}; declare it with the line '{assets.sha256_file(path)}  {path.name}' in {assets.SUMS_FILE}")


if __name__ == "__main__":
    main()
