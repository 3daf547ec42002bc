"""Reference relevance maps from Zennit (PyTorch), made once as test data.

A one-off, not part of the package: it builds a small VGG-style and a small ResNet-style
network in PyTorch with seeded random weights (batch normalisation with random running
statistics, so that folding it matters), computes Zennit's LRP heatmaps under three
composites for two random images each, and writes ``tests/attribution/relevance/data/
zennit_reference.npz``: the weights in Keras' layout, the uint8 images, the targets and
the input relevance. ``tests/attribution/relevance/test_zennit_reference.py`` builds the
same networks in Keras, loads the weights and checks :class:`cnnviz_widgets.attribution.LRP`
against the maps. PyTorch is not a dependency of this project: run the script in a
throwaway environment::

    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch==2.14.1 zennit==0.5.1 numpy
    /tmp/torchenv/bin/python scripts/zennit_reference.py

Conventions that make the two sides comparable: the images are prepared as
``(x / 255 - 0.5) / 0.25`` (so z-box's bounds are -2 and 2); the relevance starts at the
target's logit (``attr_output`` = the output times a one-hot vector); sums of branches
are Zennit ``Sum`` modules (the ``Norm`` rule); batch normalisation is folded by
``SequentialMergeBatchNorm``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SIZE = 16
CLASSES = 5
TARGETS = (1, 3)
COMPOSITES = ("epsilon_plus_flat", "epsilon_gamma_box", "epsilon_alpha2_beta1")
OUT = Path(__file__).resolve().parents[1] / "tests" / "attribution" / "relevance" / "data" / (
    "zennit_reference.npz")


def prepare(pixels: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, 3) -> float32, as the test's engine prepares them."""
    return ((pixels.astype(np.float32) / 255.0 - 0.5) / 0.25).astype(np.float32)


def build(torch):
    """The two networks, their layers named as the Keras side names its weights."""
    nn = torch.nn
    from zennit.layer import Sum

    def conv_bn(cin, cout, k, stride=1, padding=0):
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, padding), nn.BatchNorm2d(cout))

    class VGG(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, padding=1)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)
            self.c3 = conv_bn(8, 16, 3, padding=1)
            self.fc1 = nn.Linear(16 * 4 * 4, 12)
            self.fc2 = nn.Linear(12, CLASSES)
            self.relu = nn.ReLU()
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            x = self.relu(self.c1(x))
            x = self.pool(self.relu(self.c2(x)))
            x = self.pool(self.relu(self.c3(x)))
            x = self.relu(self.fc1(torch.flatten(x, 1)))
            return self.fc2(x)

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.a = conv_bn(cin, cout, 3, stride, 1)
            self.b = conv_bn(cout, cout, 3, 1, 1)
            self.short = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None
            self.relu1, self.relu2 = nn.ReLU(), nn.ReLU()
            self.sum = Sum()

        def forward(self, x):
            out = self.b(self.relu1(self.a(x)))
            identity = x if self.short is None else self.short(x)
            return self.relu2(self.sum(torch.stack([out, identity], dim=-1)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = conv_bn(3, 8, 3, 1, 1)
            self.relu = nn.ReLU()
            self.block1 = Block(8, 8, 1)
            self.block2 = Block(8, 16, 2)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, CLASSES)

        def forward(self, x):
            x = self.block2(self.block1(self.relu(self.stem(x))))
            return self.fc(torch.flatten(self.pool(x), 1))

    return {"vgg": VGG(), "resnet": ResNet()}


def randomise_batch_norms(torch, model, generator):
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            n = module.num_features
            module.weight.data = torch.rand(n, generator=generator) + 0.5
            module.bias.data = torch.randn(n, generator=generator) * 0.1
            module.running_mean.data = torch.randn(n, generator=generator) * 0.1
            module.running_var.data = torch.rand(n, generator=generator) + 0.5


def keras_weights(torch, name, model):
    """``{"<model>/<layer>/<weight>": array}`` in Keras' layout (kernels HWIO, dense IO)."""
    out = {}
    for path, module in model.named_modules():
        key = f"{name}/{path.replace('.', '_')}"
        if isinstance(module, torch.nn.Conv2d):
            out[f"{key}/kernel"] = module.weight.detach().numpy().transpose(2, 3, 1, 0)
            out[f"{key}/bias"] = module.bias.detach().numpy()
        elif isinstance(module, torch.nn.Linear):
            weight = module.weight.detach().numpy()
            if path == "fc1":  # torch flattens (C, H, W), Keras (H, W, C)
                c, hw = 16, 4
                weight = weight.reshape(-1, c, hw, hw).transpose(0, 2, 3, 1).reshape(
                    weight.shape[0], -1)
            out[f"{key}/kernel"] = weight.T
            out[f"{key}/bias"] = module.bias.detach().numpy()
        elif isinstance(module, torch.nn.BatchNorm2d):
            for field, value in (("gamma", module.weight), ("beta", module.bias),
                                 ("moving_mean", module.running_mean),
                                 ("moving_variance", module.running_var)):
                out[f"{key}/{field}"] = value.detach().numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in out.items()}


def composite(name):
    from zennit.canonizers import SequentialMergeBatchNorm
    from zennit.composites import EpsilonAlpha2Beta1, EpsilonGammaBox, EpsilonPlusFlat

    canonizers = [SequentialMergeBatchNorm()]
    if name == "epsilon_plus_flat":
        return EpsilonPlusFlat(canonizers=canonizers)
    if name == "epsilon_alpha2_beta1":
        return EpsilonAlpha2Beta1(canonizers=canonizers)
    return EpsilonGammaBox(low=-2.0, high=2.0, canonizers=canonizers)


def main() -> None:
    import torch
    from zennit.attribution import Gradient

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    data = {"targets": np.asarray(TARGETS, dtype=np.int64)}
    for name, model in build(torch).items():
        randomise_batch_norms(torch, model, generator)
        model.eval()
        data.update(keras_weights(torch, name, model))
        pixels = rng.integers(0, 256, (len(TARGETS), SIZE, SIZE, 3), dtype=np.uint8)
        data[f"{name}/pixels"] = pixels
        x = torch.from_numpy(prepare(pixels).transpose(0, 3, 1, 2).copy())
        with torch.no_grad():
            data[f"{name}/logits"] = model(x).numpy()
        onehot = torch.eye(CLASSES)[list(TARGETS)]
        for comp in COMPOSITES:
            with Gradient(model, composite(comp)) as attributor:
                _, relevance = attributor(x.clone().requires_grad_(True),
                                          lambda output, hot=onehot: output * hot)
            data[f"{name}/{comp}"] = relevance.detach().numpy().transpose(0, 2, 3, 1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
