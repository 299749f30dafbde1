"""The report's images: animated WebPs of a track's crops and a still of its best crop (PIL, no OpenCV)."""

from __future__ import annotations

import numpy as np

from reidflow.settings import ReportSettings


def resize_to_height(image: np.ndarray, height: int) -> np.ndarray:
    from PIL import Image  # imageio's own dependency: the report needs no OpenCV

    h, w = image.shape[:2]
    if h == height:
        return image
    width = max(1, round(w * height / h))
    return np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.LANCZOS))


def track_webp(crops: np.ndarray, frames: np.ndarray, settings: ReportSettings) -> bytes:
    """An animated WebP of one track's RGB crops (K, H, W, 3) in time order, looping forever.

    libwebp merges consecutive identical crops into one longer frame, so timing stays right.
    """
    import imageio.v3 as iio

    crops = np.asarray(crops)
    if crops.ndim != 4 or crops.shape[-1] != 3 or len(crops) == 0:
        raise ValueError(f"expected RGB crops of shape (K>0, H, W, 3), got {crops.shape}")
    order = np.argsort(np.asarray(frames), kind="stable")
    images = np.stack([resize_to_height(crops[i], settings.webp_height) for i in order])
    return iio.imwrite(
        "<bytes>",
        images,
        extension=".webp",
        is_batch=True,
        duration=max(1, round(1000 / settings.webp_fps)),
        loop=0,
        quality=settings.webp_quality,
    )


def still_webp(crop: np.ndarray, settings: ReportSettings) -> bytes:
    import imageio.v3 as iio

    return iio.imwrite(
        "<bytes>", resize_to_height(crop, settings.webp_height), extension=".webp", quality=settings.webp_quality
    )
