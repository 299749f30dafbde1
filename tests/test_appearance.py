"""Every appearance backend (reidflow.appearance) with a real network: torchreid with the shared weights, an
ONNX file exported here from them, and open_clip image towers built from their configs.

The open_clip tests use randomly initialised weights (seeded): no CLIP weights are stored on these machines
and none can be fetched (no hub access), and shapes, batching, normalisation, determinism and the loading
checks do not depend on what the weights learned. CLIP's quality is tested by ``test_clip_quality`` where
real ViT-B-32 weights lie in the models directory; it skips, saying so, everywhere else.
"""

import csv
import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch
from conftest import REPO
from helpers_reid import rank1_and_map
from onnx import TensorProto, helper
from test_features import write_crops_file

from reidflow import appearance, assets
from reidflow.appearance import FeaturesError, clip_models, network, torchreid_models
from reidflow.features import embed_in_batches, extract_features
from reidflow.formats.crops import CropsReader
from reidflow.formats.features import read_features_meta, write_features
from reidflow.settings import FeatureSettings

CPU = FeatureSettings(device="cpu")


@pytest.fixture(scope="module")
def labelled(reid_crops):
    """The labelled crops as RGB, cut at 256x128 (torchreid's size) and at 224x224 (CLIP's), with identities."""
    rows = list(csv.DictReader(open(reid_crops / "labels.csv")))
    bgr = [cv2.imread(str(reid_crops / r["file"])) for r in rows]

    def at(height, width):
        return np.stack(
            [
                cv2.cvtColor(cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
                for b in bgr
            ]
        )

    identities = np.array([r["identity"] for r in rows])
    frames = np.array([int(r["frame"]) for r in rows])
    return {"reid": at(256, 128), "clip": at(224, 224), "identities": identities, "frames": frames}


def embed(model, images, batch_size=16, settings=CPU):
    return embed_in_batches([(0, images)], model.embedder(settings, 2, images.shape[1:3]), batch_size)[0]


# --- the registry: names, files, input sizes (what rules/common.smk asks while planning) ---


def test_model_names_parse_and_unknown_kinds_are_refused():
    assert appearance.parse_model("osnet_x0_25") == appearance.ModelName("torchreid", "osnet_x0_25")
    assert appearance.parse_model("clip:ViT-B-32") == appearance.ModelName("clip", "ViT-B-32")
    assert appearance.parse_model("onnx:dir/osnet.onnx") == appearance.ModelName("onnx", "dir/osnet.onnx")
    for bad in ("timm:resnet50", "clip:", "onnx:"):
        with pytest.raises(FeaturesError, match=r"features.model .*unknown; give a torchreid model name"):
            appearance.parse_model(bad)
    assert appearance.model_file({"model": "onnx:x.onnx", "weights": "w.pth"}) == "x.onnx"
    assert appearance.model_file({"model": "clip:ViT-B-32", "weights": "w.safetensors"}) == "w.safetensors"


def test_each_model_states_its_input_size_and_the_crops_take_it():
    assert appearance.input_size("clip:ViT-B-32") == (224, 224)
    assert appearance.input_size("clip:ViT-L-14-336") == (336, 336)
    assert appearance.input_size("hacnn") == (160, 64)
    assert appearance.input_size("osnet_x0_25") is None
    assert appearance.crop_size("osnet_x0_25", None, 256, 128) == (256, 128)  # crops.height x crops.width
    assert appearance.crop_size("clip:ViT-B-32", None, 256, 128) == (224, 224)  # the model's own
    with pytest.raises(
        FeaturesError, match=r"clip:ViT-X-99: open_clip has no architecture 'ViT-X-99'; known: .*ViT-B-32"
    ):
        appearance.input_size("clip:ViT-X-99")


def test_planning_asks_the_registry_without_importing_torch():
    code = (
        "import sys; from reidflow import appearance; "
        "print(appearance.crop_size('clip:ViT-B-32', None, 256, 128), 'torch' in sys.modules, 'open_clip' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.split() == ["(224,", "224)", "False", "False"]


# --- torchreid ---


def test_torchreid_through_the_registry(weights, labelled):
    model = appearance.load("osnet_x0_25", weights)
    assert model.input_size is None and model.feature_dim((256, 128)) == 512
    feats = embed(model, labelled["reid"][:20])
    assert feats.shape == (20, 512) and feats.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)


# --- ONNX exports ---


@pytest.fixture(scope="module")
def osnet_onnx(weights, tmp_path_factory):
    """osnet_x0_25 msmt17 exported by scripts/export_reid_onnx.py (BoxMOT's convention), dynamic batch."""
    out = tmp_path_factory.mktemp("onnx") / "osnet_x0_25_msmt17.onnx"
    script = REPO / "scripts" / "export_reid_onnx.py"
    proc = subprocess.run(
        [sys.executable, str(script), "osnet_x0_25", str(weights), str(out)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert assets.sha256_file(out) in proc.stdout  # it says how to declare the file
    return out


def test_onnx_export_matches_the_torch_features(osnet_onnx, weights, labelled):
    images = labelled["reid"][:40]
    torch_model = appearance.load("osnet_x0_25", weights)
    onnx_model = appearance.load(f"onnx:{osnet_onnx.name}", osnet_onnx)
    assert onnx_model.input_size == appearance.input_size("onnx:x", osnet_onnx) == (256, 128)  # the file's H, W
    reference = embed(torch_model, images, settings=FeatureSettings(device="cpu", backend="torch"))
    for batch_size in (1, 16, 64):
        np.testing.assert_allclose(embed(onnx_model, images, batch_size), reference, atol=1e-4)
    assert onnx_model.feature_dim((256, 128)) == 512


def test_onnx_of_a_fixed_batch_and_size(weights, labelled, tmp_path):
    """A file exported for batches of 1 at 128x64 (as some BoxMOT exports are): crops go in one by one, and
    the model's size is the crop size."""
    path = network.export_onnx(
        torchreid_models.build_model("osnet_x0_25", weights), tmp_path / "b1.onnx", (128, 64), dynamic_batch=False
    )
    model = appearance.load("onnx:b1.onnx", path)
    assert model.input_size == (128, 64) and appearance.input_size("onnx:b1.onnx", path) == (128, 64)
    small = np.stack([cv2.resize(c, (64, 128), interpolation=cv2.INTER_AREA) for c in labelled["reid"][:5]])
    reference = embed(
        appearance.load("osnet_x0_25", weights), small, settings=FeatureSettings(device="cpu", backend="torch")
    )
    np.testing.assert_allclose(embed(model, small, batch_size=5), reference, atol=1e-4)
    crops_file = write_crops_file(tmp_path / "final_crops.h5", labelled["reid"][:2])
    with pytest.raises(
        FeaturesError, match=r"crops of 256x128 px, but features.model onnx:b1.onnx takes 128x64 crops only"
    ):
        extract_features(crops_file, path, "sha", FeatureSettings(model="onnx:b1.onnx"), threads=1)


def test_extract_features_with_an_onnx_file_records_it(osnet_onnx, labelled, tmp_path):
    crops_file = write_crops_file(tmp_path / "final_crops.h5", labelled["reid"][:6])
    sha = assets.sha256_file(osnet_onnx)
    result = extract_features(crops_file, osnet_onnx, sha, FeatureSettings(model=f"onnx:{osnet_onnx}"), threads=1)
    write_features(tmp_path / "features.h5", result)
    meta = read_features_meta(tmp_path / "features.h5")
    assert (meta.model, meta.weights, meta.weights_sha256) == (f"onnx:{osnet_onnx}", osnet_onnx.name, sha)
    assert (meta.input_height, meta.input_width, meta.feature_dim) == (256, 128, 512)
    assert result.by_track[7].shape == (6, 512)


def test_onnx_on_a_named_cuda_device_without_the_cuda_provider_is_refused(osnet_onnx):
    """A GPU asked for by name never turns into a quiet CPU run (this machine's onnxruntime has no CUDA)."""
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has a CUDA provider: the refusal cannot happen here")
    model = appearance.load(f"onnx:{osnet_onnx}", osnet_onnx)
    with pytest.raises(FeaturesError, match="no CUDA provider; install onnxruntime-gpu, or set features.device: cpu"):
        model.embedder(FeatureSettings(model=f"onnx:{osnet_onnx}", device="cuda"), 1, (256, 128), gpu=True)


def tiny_onnx(path, input_shape, output_shape):
    """A one-node ONNX model (a global average pool or reshape) with the given graph shapes."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, input_shape)
    y = helper.make_tensor_value_info("features", TensorProto.FLOAT, output_shape)
    node = helper.make_node("GlobalAveragePool", ["images"], ["features"])
    graph = helper.make_graph([node], "tiny", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    return path


def test_onnx_files_of_the_wrong_kind_give_clear_errors(osnet_onnx, tmp_path):
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(osnet_onnx.read_bytes()[: osnet_onnx.stat().st_size // 3])
    with pytest.raises(FeaturesError, match=r"truncated.onnx: not a readable ONNX model .*truncated or not ONNX"):
        appearance.load("onnx:truncated.onnx", truncated)
    with pytest.raises(FeaturesError, match=r"truncated.onnx: not a readable ONNX model"):
        appearance.input_size("onnx:truncated.onnx", truncated)  # at planning time, too
    grey = tiny_onnx(tmp_path / "grey.onnx", ["N", 1, 256, 128], ["N", 1, 1, 1])
    with pytest.raises(
        FeaturesError, match=r"grey.onnx: the ONNX model takes input of shape \['N', 1, 256, 128\], not \(N, 3, H, W\)"
    ):
        appearance.load("onnx:grey.onnx", grey)
    maps = tiny_onnx(tmp_path / "maps.onnx", ["N", 3, 256, 128], ["N", 3, 1, 1])
    with pytest.raises(
        FeaturesError, match=r"maps.onnx: the ONNX model's output 'features' has shape .*not \(N, D\) features"
    ):
        appearance.load("onnx:maps.onnx", maps)
    with pytest.raises(FeaturesError, match=r"missing.onnx: ONNX file not found"):
        appearance.load("onnx:missing.onnx", tmp_path / "missing.onnx")


# --- open_clip (random weights: see the module's docstring) ---


@pytest.fixture(scope="module")
def clip_s32(tmp_path_factory):
    """ViT-S-32 (open_clip's small ViT) built from its config with seeded random weights, and its image
    tower's weights saved in fp16 as a .pth and a .safetensors file (what features.weights names)."""
    from safetensors.torch import save_file

    torch.manual_seed(0)
    visual = clip_models.build_visual("ViT-S-32").half().float()  # the values an fp16 file holds
    state = {f"visual.{k}": v.half().contiguous() for k, v in visual.state_dict().items()}
    folder = tmp_path_factory.mktemp("clip")
    torch.save(state, folder / "vit_s_32.pth")
    save_file(state, str(folder / "vit_s_32.safetensors"))
    return clip_models.from_visual("ViT-S-32", visual), folder


def test_clip_shapes_batching_normalisation_and_determinism(clip_s32, labelled):
    model, _ = clip_s32
    images = labelled["clip"][:24]
    assert model.input_size == (224, 224) and model.feature_dim((224, 224)) == 384
    one = embed(model, images, batch_size=1, settings=FeatureSettings(device="cpu", backend="torch"))
    many = embed(model, images, batch_size=16, settings=FeatureSettings(device="cpu", backend="torch"))
    assert one.shape == (24, 384) and one.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_array_equal(
        many, embed(model, images, batch_size=16, settings=FeatureSettings(device="cpu", backend="torch"))
    )
    # the CPU backend (an ONNX Runtime export) gives the same features
    np.testing.assert_allclose(embed(model, images, batch_size=16), many, atol=1e-4)
    # CLIP's own normalisation, applied batch-wise inside the network: its mean/std, not ImageNet's
    x = torch.from_numpy(images[:3]).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor((0.48145466, 0.4578275, 0.40821073)).view(1, 3, 1, 1)
    std = torch.tensor((0.26862954, 0.26130258, 0.27577711)).view(1, 3, 1, 1)
    with torch.inference_mode():
        by_hand = torch.nn.functional.normalize(model.module((x - mean) / std), dim=1).numpy()
    np.testing.assert_allclose(many[:3], by_hand, atol=1e-5)


def test_clip_vit_b_32_is_512_d_at_224():
    """The architecture seed 004 uses: open_clip's ViT-B-32 config, 512-d unit features of 224x224 crops."""
    torch.manual_seed(0)
    model = clip_models.from_visual("ViT-B-32", clip_models.build_visual("ViT-B-32"))
    images = np.random.default_rng(0).integers(0, 256, (3, 224, 224, 3), dtype=np.uint8)
    feats = embed(model, images, settings=FeatureSettings(device="cpu", backend="torch"))
    assert model.input_size == (224, 224) and feats.shape == (3, 512)
    np.testing.assert_allclose(np.linalg.norm(feats, axis=1), 1.0, atol=1e-5)


def test_clip_weights_load_from_a_local_file(clip_s32, labelled, tmp_path):
    reference, folder = clip_s32
    images = labelled["clip"][:6]
    expected = embed(reference, images, settings=FeatureSettings(device="cpu", backend="torch"))
    for name in ("vit_s_32.pth", "vit_s_32.safetensors"):
        loaded = appearance.load("clip:ViT-S-32", folder / name)
        np.testing.assert_allclose(
            embed(loaded, images, settings=FeatureSettings(device="cpu", backend="torch")), expected, atol=1e-5
        )
    # through the stage: crops at CLIP's size in, its name and size recorded
    crops_file = write_crops_file(tmp_path / "final_crops.h5", images)
    result = extract_features(crops_file, folder / "vit_s_32.pth", "sha", FeatureSettings(model="clip:ViT-S-32"), 1)
    assert (result.meta.model, result.meta.input_height, result.meta.input_width, result.meta.feature_dim) == (
        "clip:ViT-S-32",
        224,
        224,
        384,
    )
    np.testing.assert_allclose(result.by_track[7], expected, atol=1e-4)


def test_clip_refuses_crops_of_another_size_and_wrong_or_truncated_weights(clip_s32, labelled, weights, tmp_path):
    _, folder = clip_s32
    crops_file = write_crops_file(tmp_path / "final_crops.h5", labelled["reid"][:2])
    with pytest.raises(
        FeaturesError, match=r"crops of 256x128 px, but features.model clip:ViT-S-32 takes 224x224 crops only"
    ):
        extract_features(crops_file, folder / "vit_s_32.pth", "sha", FeatureSettings(model="clip:ViT-S-32"), 1)
    with pytest.raises(
        FeaturesError,
        match=r"osnet_x0_25_msmt17.pth: these weights do not fit open_clip's image tower of 'ViT-S-32': no image-tower keys",
    ):
        appearance.load("clip:ViT-S-32", weights)
    with pytest.raises(
        FeaturesError, match=r"vit_s_32.pth: these weights do not fit .*'ViT-B-32': .*keys of another shape"
    ):
        appearance.load("clip:ViT-B-32", folder / "vit_s_32.pth")
    for name in ("vit_s_32.pth", "vit_s_32.safetensors"):
        truncated = tmp_path / f"truncated_{name}"
        truncated.write_bytes((folder / name).read_bytes()[:100_000])
        with pytest.raises(FeaturesError, match=rf"truncated_{name}: cannot read the weights.*truncated"):
            appearance.load("clip:ViT-S-32", truncated)


def clip_weights(models_dir):
    found = sorted(
        p for p in models_dir.glob("*") if "vit-b-32" in p.name.lower() and p.suffix in (".bin", ".safetensors", ".pth")
    )
    return found[0] if found else None


def test_clip_quality(models_dir, labelled):
    """Real CLIP ViT-B-32 weights separate the labelled people far better than chance (not a ReID model:
    the bar is lower than OSNet's)."""
    path = clip_weights(models_dir)
    if path is None:
        pytest.skip(
            f"no CLIP ViT-B-32 weights in {models_dir} (a file with 'ViT-B-32' in its name: open_clip's "
            "open_clip_pytorch_model.bin or open_clip_model.safetensors); none can be fetched on these machines"
        )
    feats = embed(appearance.load("clip:ViT-B-32", path), labelled["clip"], batch_size=64)
    rank1, mean_ap, queries = rank1_and_map(feats, labelled["identities"], labelled["frames"])
    print(f"CLIP ViT-B-32: rank-1 {rank1:.3f} mAP {mean_ap:.3f} over {queries} queries")
    assert rank1 >= 0.7 and mean_ap >= 0.3


# --- the workflow: the model owns the crop size ---


@pytest.mark.slow
def test_workflow_stores_crops_at_the_size_of_an_onnx_model(workdir, vtest_clip, weights, tmp_path):
    """An ONNX file of a fixed 128x64 input: rule crops stores 128x64 crops although crops.height/width say
    256x128, and features records the file, its sha256 and that size."""
    path = network.export_onnx(
        torchreid_models.build_model("osnet_x0_25", weights), tmp_path / "osnet_128x64.onnx", (128, 64)
    )
    sums = workdir.path / assets.SUMS_FILE
    sums.parent.mkdir(parents=True, exist_ok=True)
    sums.write_text(f"{assets.sha256_file(path)}  {path}\n")  # your own file: declared by its line
    workdir.config["features"]["model"] = f"onnx:{path}"
    workdir.write_config()
    workdir.write_videos([("clip", vtest_clip)], header=("video", "path"))
    workdir.snakemake("results/clip/features.h5")
    with CropsReader(workdir.path / "results/clip/final_crops.h5") as reader:
        assert (reader.meta.crop_height, reader.meta.crop_width) == (128, 64)
    meta = read_features_meta(workdir.path / "results/clip/features.h5")
    assert (meta.model, meta.weights, meta.weights_sha256) == (f"onnx:{path}", path.name, assets.sha256_file(path))
    assert (meta.input_height, meta.input_width, meta.feature_dim) == (128, 64, 512)


def test_missing_clip_weights_stop_the_run_saying_where_they_go(workdir, vtest_clip):
    """Offline, nothing is fetched: planning fails naming the file and the models directory."""
    workdir.config["features"].update(model="clip:ViT-B-32", weights="open_clip_vit_b_32.safetensors")
    workdir.write_config()
    workdir.write_videos([("clip", vtest_clip)], header=("video", "path"))
    proc = workdir.snakemake("-n", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "model 'open_clip_vit_b_32.safetensors' is neither listed in resources/models.yaml nor in" in out
    assert "put it into the local weights directory" in out


def test_clip_builds_the_image_tower_alone():
    """roberta-ViT-B-32's text tower comes from the Hugging Face hub: building only the image tower must
    neither reach for it nor import transformers (run in a fresh interpreter to see its imports)."""
    code = (
        "import sys; from reidflow.appearance import clip_models; "
        "v = clip_models.build_visual('roberta-ViT-B-32'); "
        "assert v.state_dict(); "
        "print('transformers' in sys.modules)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NO_PROXY": "*"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"
