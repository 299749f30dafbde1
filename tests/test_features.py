import csv

import cv2
import numpy as np
import pytest
import torch
from helpers_reid import rank1_and_map

from reidflow import appearance, assets, features
from reidflow.appearance.network import build_embedder
from reidflow.features import FeaturesError, FeatureSettings
from reidflow.formats.crops import CROP_METRICS, PERSONS_DTYPE, CropsMeta, CropsReader, open_crops_writer
from reidflow.formats.features import read_features, read_features_meta, write_features


@pytest.fixture(scope="module")
def model(weights):
    return features.build_model("osnet_x0_25", weights)


@pytest.fixture(scope="module")
def labelled(reid_crops):
    """Crops stretched to 256x128 RGB like the crops stage stores them, with identity and frame."""
    rows = list(csv.DictReader(open(reid_crops / "labels.csv")))
    images = np.stack(
        [
            cv2.cvtColor(
                cv2.resize(cv2.imread(str(reid_crops / r["file"])), (128, 256), interpolation=cv2.INTER_LINEAR),
                cv2.COLOR_BGR2RGB,
            )
            for r in rows
        ]
    )
    identities = np.array([r["identity"] for r in rows])
    frames = np.array([int(r["frame"]) for r in rows])
    return images, identities, frames


def embed_all(model, images, batch_size=64, **kw):
    embed = build_embedder(features.ReidNetwork(model).eval(), FeatureSettings(**kw), 2, images.shape[1:3])
    return features.embed_in_batches([(0, images)], embed, batch_size)[0]


def test_real_weights_reidentify_and_random_weights_do_not(model, labelled):
    """These same-camera crops are easy (colour alone goes far), so besides rank-1 the test compares
    mAP and the spread of similarities: a random network maps everyone to nearly one direction."""
    images, identities, frames = labelled
    real = embed_all(model, images)
    torch.manual_seed(0)
    from torchreid.reid.models import build_model

    random = embed_all(build_model("osnet_x0_25", num_classes=1, pretrained=False).eval(), images)
    real_rank1, real_map, queries = rank1_and_map(real, identities, frames)
    random_rank1, random_map, _ = rank1_and_map(random, identities, frames)
    off_diagonal = ~np.eye(len(images), dtype=bool)
    real_spread, random_spread = (real @ real.T)[off_diagonal].mean(), (random @ random.T)[off_diagonal].mean()
    print(
        f"{queries} queries: trained rank-1 {real_rank1:.3f} mAP {real_map:.3f} mean cosine {real_spread:.2f}; "
        f"random rank-1 {random_rank1:.3f} mAP {random_map:.3f} mean cosine {random_spread:.2f}"
    )
    assert queries >= 50
    assert real_rank1 >= 0.90
    assert random_rank1 < real_rank1 and random_map <= real_map - 0.05
    assert random_spread > 0.9 and real_spread < 0.7


def test_features_are_unit_length_and_independent_of_batch_size(model, labelled):
    images = labelled[0][:70]
    one = embed_all(model, images, batch_size=1)
    many = embed_all(model, images, batch_size=64)
    assert one.shape == many.shape == (70, 512) and one.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(many, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(one, many, atol=1e-4)


def test_onnx_runtime_matches_pytorch(model, labelled):
    images = labelled[0][:16]
    np.testing.assert_allclose(
        embed_all(model, images, backend="onnx"), embed_all(model, images, backend="torch"), atol=1e-4
    )


def test_batches_span_tracks_and_keep_crop_order():
    """Batching is bookkeeping: a per-image function must come back in each track's crop order."""

    def mean_pixel(batch):
        return batch.reshape(len(batch), -1).mean(axis=1, keepdims=True).astype(np.float32)

    rng = np.random.default_rng(1)
    tracks = [(t, rng.integers(0, 256, (k, 4, 2, 3), dtype=np.uint8)) for t, k in [(5, 3), (2, 10), (9, 1), (4, 7)]]
    for batch_size in (1, 4, 7, 64):
        out = features.embed_in_batches(iter(tracks), mean_pixel, batch_size)
        assert list(out) == [5, 2, 9, 4]
        for t, crops in tracks:
            np.testing.assert_array_equal(out[t], mean_pixel(crops))


def test_classifier_of_another_training_set_is_dropped(models_dir, model):
    other = features.build_model("osnet_x0_25", models_dir / "osnet_x0_25_market1501.pth")
    a = dict(model.named_parameters())["conv1.conv.weight"]
    b = dict(other.named_parameters())["conv1.conv.weight"]
    assert not torch.equal(a, b), "two trainings of one architecture load different weights"


def test_truncated_weights_file_fails_naming_it(weights, tmp_path):
    broken = tmp_path / "osnet_broken.pth"
    broken.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(FeaturesError, match=r"osnet_broken\.pth: cannot read the weights.*truncated"):
        features.build_model("osnet_x0_25", broken)


def test_weights_of_another_architecture_fail_naming_what_did_not_match(weights):
    with pytest.raises(
        FeaturesError,
        match=r"osnet_x0_25_msmt17\.pth: these weights do not fit torchreid model 'osnet_x1_0'.*of another shape",
    ):
        features.build_model("osnet_x1_0", weights)


def test_resnet_weights_into_osnet_fail(tmp_path, weights):
    from torchreid.reid.models import build_model

    resnet = tmp_path / "resnet18.pth"
    torch.save(build_model("resnet18", num_classes=5, pretrained=False).state_dict(), resnet)
    with pytest.raises(FeaturesError, match=r"resnet18\.pth: .*missing keys.*unexpected keys"):
        features.build_model("osnet_x0_25", resnet)


def test_unknown_model_name():
    with pytest.raises(FeaturesError, match="unknown torchreid model 'osnet_x9'"):
        features.build_model("osnet_x9", "unused.pth")


def test_empty_crops_file_gives_empty_features(tmp_path, weights):
    crops_path = tmp_path / "final_crops.h5"
    meta = CropsMeta(
        video="empty", source="x.avi", fps=10.0, frame_count=5, crop_height=256, crop_width=128, resize="stretch"
    )
    with open_crops_writer(crops_path, meta, np.zeros(0, PERSONS_DTYPE)):
        pass
    result = features.extract_features(crops_path, weights, "sha", FeatureSettings(), threads=1)
    write_features(tmp_path / "features.h5", result)
    back = read_features(tmp_path / "features.h5")
    assert back.by_track == {} and back.meta.feature_dim == 512 and back.meta.video == "empty"


def test_features_on_vtest_through_snakemake(workdir, vtest_clip, weights):
    workdir.write_videos([("clip", vtest_clip)], header=("video", "path"))
    workdir.snakemake("results/clip/features.h5")
    result = read_features(workdir.path / "results/clip/features.h5")
    assert read_features_meta(workdir.path / "results/clip/features.h5") == result.meta
    with CropsReader(workdir.path / "results/clip/final_crops.h5") as reader:
        assert result.track_ids == reader.track_ids and len(result.track_ids) >= 5
        for track_id, kept in zip(reader.track_ids, reader.persons["crops_kept"]):
            assert result.by_track[track_id].shape == (kept, 512)
    stacked = np.concatenate(list(result.by_track.values()))
    np.testing.assert_allclose(np.linalg.norm(stacked, axis=1), 1.0, atol=1e-5)
    assert result.meta.model == "osnet_x0_25" and result.meta.weights_sha256 == assets.sha256_file(weights)
    assert (workdir.path / "logs/features/clip.log").read_text().count("onnx backend") == 1


def write_crops_file(path, images, track_id=7):
    """final_crops.h5 holding ``images`` as one track's crops, at their own size."""
    k, h, w = images.shape[:3]
    meta = CropsMeta(video="v", source="v.avi", fps=10.0, frame_count=k, crop_height=h, crop_width=w, resize="stretch")
    persons = np.array([(track_id, 0, k - 1, k, k)], dtype=PERSONS_DTYPE)
    with open_crops_writer(path, meta, persons) as writer:
        for slot, image in enumerate(images):
            writer.put_crop(track_id, slot, image)
        writer.put_track(
            track_id, np.arange(k), np.tile([0, 0, w, h], (k, 1)), {m: np.zeros(k, np.float32) for m in CROP_METRICS}
        )
    return path


def test_crops_are_embedded_at_their_stored_size_and_never_stretched_again(model, labelled, weights, tmp_path):
    """The crops stage owns the input size: features takes the crops' size and resizes nothing."""
    small = np.stack([cv2.resize(crop, (64, 128), interpolation=cv2.INTER_AREA) for crop in labelled[0][:4]])
    stretched = np.stack([cv2.resize(crop, (128, 256), interpolation=cv2.INTER_LINEAR) for crop in small])
    # a network built for 256x128 refuses 128x64 crops instead of stretching them a second time
    for backend in ("onnx", "torch"):
        embed = build_embedder(
            features.ReidNetwork(model).eval(), FeatureSettings(backend=backend, device="cpu"), 1, (256, 128)
        )
        with pytest.raises(FeaturesError, match=r"crops of 128x64 px, but the ReID network was built for 256x128"):
            embed(small)
        assert embed(stretched).shape == (4, 512)
    # a crops file of 128x64 crops is embedded at 128x64, exactly as the network sees those crops
    result = features.extract_features(
        write_crops_file(tmp_path / "small.h5", small), weights, "sha", FeatureSettings(), threads=1
    )
    assert (result.meta.input_height, result.meta.input_width) == (128, 64)
    np.testing.assert_allclose(result.by_track[7], embed_all(model, small), atol=1e-5)
    assert not np.allclose(result.by_track[7], embed_all(model, stretched), atol=1e-3), "not stretched to 256x128"


def test_a_model_of_one_input_size_names_the_crop_settings(model, labelled, tmp_path):
    """hacnn takes 160x64 only: crops of another size are refused before anything loads, naming the fix."""
    crops_file = write_crops_file(tmp_path / "final_crops.h5", labelled[0][:2])
    with pytest.raises(
        FeaturesError,
        match=r"final_crops.h5: crops of 256x128 px, but features.model hacnn takes 160x64 crops only .*"
        r"CropSettings\(height=160, width=64\)",
    ):
        features.extract_features(crops_file, "unused.pth", "sha", FeatureSettings(model="hacnn"), threads=1)
    assert appearance.crop_size("hacnn", None, 256, 128) == (160, 64)  # what the workflow's rule crops stores
    appearance.check_crop_size("osnet_x0_25", None, (128, 64), crops_file)  # any size for the others
