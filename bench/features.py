"""Crops per second of the ``features`` stage's code against torchreid's own ``FeatureExtractor``.

Same crops, same weights, one run; each method runs in a fresh process so its peak memory (RSS) is its
own. Crops/s are given with the setup (imports, building the model, for reidflow the ONNX export: a
fixed cost per job) and for the embedding alone (what grows with the crops). Crops come from a
final_crops.h5 (``--crops``) or a folder of images (``--images``, e.g. ../shared/data/reid-crops).

    .venv/bin/python bench/features.py --images ../shared/data/reid-crops --weights ../shared/models/osnet_x0_25_msmt17.pth
    .venv/bin/python bench/features.py --crops results/vtest/final_crops.h5 --weights ... --device cuda   # + fp16
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from pathlib import Path

import cv2
import numpy as np


def load_crops(crops: Path | None, images: Path | None) -> np.ndarray:
    if crops is not None:
        from reidflow.formats.crops import CropsReader

        with CropsReader(crops) as reader:
            return np.concatenate([reader.read(t).crops for t in reader.track_ids])
    files = sorted(p for p in images.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    return np.stack([cv2.cvtColor(cv2.resize(cv2.imread(str(f)), (128, 256)), cv2.COLOR_BGR2RGB) for f in files])


def run_stage(crops, weights, model, device, half, batch, threads, queue) -> None:
    import torchreid.reid.models  # noqa: F401  imported before timing, as the baseline's import does

    from reidflow import appearance, features

    start = time.perf_counter()
    net = appearance.load(model, weights)  # the stage's own loading (any reidflow.appearance model)
    settings = features.FeatureSettings(model=model, device=device, half=half, batch_size=batch)
    embed = net.embedder(settings, threads, input_size=crops.shape[1:3])
    ready = time.perf_counter()
    out = features.embed_in_batches([(0, crops)], embed, batch)[0]
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    done = time.perf_counter()
    queue.put((done - start, done - ready, _peak_mib(), out))


def run_feature_extractor(crops, weights, model, device, half, batch, threads, queue) -> None:
    import torch
    from torchreid.reid.utils import FeatureExtractor

    torch.set_num_threads(threads)
    start = time.perf_counter()
    extractor = FeatureExtractor(model_name=model, model_path=str(weights), device=device, verbose=False)
    ready = time.perf_counter()
    parts = [extractor(list(crops[i : i + batch])).float().cpu().numpy() for i in range(0, len(crops), batch)]
    out = np.concatenate(parts)
    done = time.perf_counter()
    queue.put((done - start, done - ready, _peak_mib(), out / np.linalg.norm(out, axis=1, keepdims=True)))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(target, *args):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--crops", type=Path, help="a final_crops.h5")
    source.add_argument("--images", type=Path, help="a folder of person crops")
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--model", default="osnet_x0_25")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    crops = load_crops(args.crops, args.images)
    common = (crops, args.weights, args.model, args.device, False, args.batch, args.threads)
    base_s, base_embed_s, base_mib, base = measure(run_feature_extractor, *common)
    stage_s, stage_embed_s, stage_mib, ours = measure(run_stage, *common)
    n = len(crops)
    print(f"{n} crops, {args.model}, device {args.device}, batch {args.batch}, {args.threads} threads")
    print("                             with setup   embedding only   peak RSS")
    print(
        f"torchreid FeatureExtractor : {n / base_s:7.1f} crops/s  {n / base_embed_s:7.1f} crops/s  {base_mib:6.0f} MiB"
    )
    print(
        f"reidflow features stage    : {n / stage_s:7.1f} crops/s  {n / stage_embed_s:7.1f} crops/s  {stage_mib:6.0f} MiB"
    )
    print(
        f"speed-up                   : {base_s / stage_s:7.2f}x         {base_embed_s / stage_embed_s:7.2f}x"
        f"   (max |feature difference| {np.abs(base - ours).max():.1e})"
    )
    if args.device.startswith("cuda"):
        half_s, half_embed_s, half_mib, half = measure(
            run_stage, crops, args.weights, args.model, args.device, True, args.batch, args.threads
        )
        print(
            f"reidflow fp16 on {args.device:9s}: {n / half_s:7.1f} crops/s  {n / half_embed_s:7.1f} crops/s  "
            f"{half_mib:6.0f} MiB  (min cosine to fp32 {(half * ours).sum(axis=1).min():.4f})"
        )


if __name__ == "__main__":
    main()
