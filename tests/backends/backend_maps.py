"""The maps that must not depend on the Keras backend, computed by one function.

:func:`compute` builds the seeded tiny models of :mod:`cnnviz_widgets.testing`, loads
the weights it is given (so that every backend explains the same network: the seeded
initialisers draw different numbers under each backend) and returns every gradient
method's result. Run as a script under another ``KERAS_BACKEND`` it reads the weights
from one ``.npz`` file and writes the results to another::

    KERAS_BACKEND=jax python tests/backends/backend_maps.py weights.npz maps.npz
"""

from __future__ import annotations

import sys

import numpy as np

#: Names of the models whose weights are shared, in the order :func:`models` builds them.
MODELS = ("cnn", "conv1d", "vit")


def models() -> dict:
    """The seeded tiny models, one per layout the CAMs handle."""
    from cnnviz_widgets.testing import tiny_cnn, tiny_conv1d, tiny_vit

    return {"cnn": tiny_cnn(), "conv1d": tiny_conv1d(), "vit": tiny_vit()}


def weights_of(built: dict) -> dict[str, np.ndarray]:
    """The weights of every model, flat, as ``{"cnn/0": array, ...}``."""
    return {f"{name}/{i}": w for name in MODELS
            for i, w in enumerate(built[name].get_weights())}


def load_weights(built: dict, weights) -> None:
    for name in MODELS:
        count = len(built[name].get_weights())
        built[name].set_weights([np.asarray(weights[f"{name}/{i}"]) for i in range(count)])


def compute(weights=None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Every method's result on the tiny models, and the weights used.

    Parameters
    ----------
    weights : mapping, optional
        As :func:`weights_of` returns them; by default the models' own.
    """
    from cnnviz_widgets.attribution import (
        LRP,
        AblationCAM,
        ActivationMaximization,
        ChannelContributions,
        ChannelRelevance,
        EigenCAM,
        GradCAM,
        GradCAMPlusPlus,
        IntegratedGradients,
        LayerCAM,
        Saliency,
        ScoreCAM,
        SmoothGrad,
        effective_receptive_field,
        faithfulness,
    )

    built = models()
    if weights is not None:
        load_weights(built, weights)
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, (8, 8, 1)).astype(np.float32)
    signal = rng.normal(size=(64, 2)).astype(np.float32)
    picture = rng.uniform(0, 255, (16, 16, 3)).astype(np.float32)
    cnn, conv1d, vit = built["cnn"], built["conv1d"], built["vit"]
    out = {
        "saliency": Saliency(cnn)(image, target=1),
        "saliency_top": Saliency(cnn)(image),
        "gradcam": GradCAM(cnn, "conv_a")(image, target=2, upsample=False),
        "gradcam_default": GradCAM(cnn)(image),
        "gradcam_probabilities": GradCAM(cnn, logits=False)(image, target=0, upsample=False),
        "gradcampp": GradCAMPlusPlus(cnn, "conv_a")(image, target=1, upsample=False),
        "layercam": LayerCAM(cnn, "conv_b")(image, target=1, upsample=False),
        "eigencam": EigenCAM(cnn, "conv_a")(image, upsample=False),
        "scorecam": ScoreCAM(cnn, "conv_a")(image, target=1, upsample=False),
        "ablationcam": AblationCAM(cnn, "conv_a")(image, target=1, upsample=False),
        "integrated": IntegratedGradients(cnn, steps=8)(image, target=1),
        "smoothgrad": SmoothGrad(Saliency(cnn), samples=4, batch_size=3)(image, target=1),
        "contributions": ChannelContributions(cnn, "conv_b")(image, target=1),
        "receptive": effective_receptive_field(cnn, image, "conv_b", 1, 2),
        "lrp": LRP(cnn, composite="epsilon_gamma_box")(image, target=1, normalize=False),
        "lrp_plus_flat": LRP(cnn)(image, normalize=False),
        "crp": ChannelRelevance(cnn, "conv_b", composite="epsilon_alpha2_beta1", batch_size=2)(
            image, channels=[0, 3, 1], target=1, normalize=False),
        "conv1d_gradcam": GradCAM(conv1d)(signal, target=1, upsample=False),
        "conv1d_gradcam_up": GradCAM(conv1d)(signal, target=2),
        "conv1d_scorecam": ScoreCAM(conv1d, "conv1d_a")(signal, target=1, upsample=False),
        # the last block's first normalisation, pytorch-grad-cam's choice for a ViT (after
        # the attention, nothing leads from the patch tokens to the class token)
        "vit_gradcam": GradCAM(vit, "norm1")(picture, target=0, upsample=False),
        "vit_gradcam_up": GradCAM(vit, "position")(picture, target=2),
    }
    faithful = faithfulness(cnn, image, out["gradcam_default"], target=1, steps=4)
    out["deletion"], out["insertion"] = faithful.deletion, faithful.insertion
    # the Fourier image seen as it is (the random transforms, whose sizes change at every
    # step, are compared in tests/attribution), the pixels through the default jitter
    for param, channel, transforms in (("fourier", 0, ()), ("pixels", 4, None)):
        result = ActivationMaximization(cnn)("conv_b", channel=channel, steps=4, param=param,
                                             relu_redirect=2, transforms=transforms)
        out[f"maximize_{param}_history"] = result.history
        out[f"maximize_{param}_final"] = np.asarray(result.final)
    return out, weights_of(built)


def main(argv: list[str]) -> int:
    weights_path, out_path = argv
    with np.load(weights_path) as weights:
        results, _ = compute(dict(weights))
    np.savez(out_path, **results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
