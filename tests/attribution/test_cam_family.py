"""The CAM family equals its published formulas, written out in NumPy on tiny models."""

from __future__ import annotations

import numpy as np
import pytest

from cnnviz_widgets.attribution import (
    AblationCAM,
    EigenCAM,
    GradCAM,
    GradCAMPlusPlus,
    HiResCAM,
    LayerCAM,
    ScoreCAM,
    XGradCAM,
    upsample_heatmap,
)
from cnnviz_widgets.errors import InvalidSettingError, LayerNotFoundError, LayerNotViewableError
from cnnviz_widgets.testing import tiny_cnn

from .helpers import copy_model, feature_and_gradient

FAMILY = [GradCAMPlusPlus, XGradCAM, LayerCAM, HiResCAM, EigenCAM]


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def gradcam_plusplus(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    g2, g3 = g ** 2, g ** 3
    denom = 2 * g2 + a.sum(axis=(0, 1)) * g3
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(denom != 0, g2 / denom, 0.0)
    weights = (alpha * _relu(g)).sum(axis=(0, 1))
    return _relu(a @ weights)


def xgradcam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    weights = (g * a).sum(axis=(0, 1)) / (a.sum(axis=(0, 1)) + 1e-7)
    return _relu(a @ weights)


def layercam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return _relu((_relu(g) * a).sum(axis=-1))


def hirescam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    return _relu((g * a).sum(axis=-1))


def eigencam(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """First principal component by the covariance's eigenvectors (not an SVD)."""
    h, w, c = a.shape
    flat = a.reshape(h * w, c)
    centred = flat - flat.mean(axis=0)
    _, vectors = np.linalg.eigh(centred.T @ centred)
    projection = centred @ vectors[:, -1]
    if np.corrcoef(projection, flat.sum(axis=1))[0, 1] < 0:
        projection = -projection
    return _relu(projection.reshape(h, w))


FORMULAS = {GradCAMPlusPlus: gradcam_plusplus, XGradCAM: xgradcam, LayerCAM: layercam,
            HiResCAM: hirescam, EigenCAM: eigencam}


def _functional_model():
    """Input (10, 10, 3) -> conv1 (ReLU, 4) -> conv2 (ReLU, 5) -> Flatten -> linear Dense (3)."""
    import keras

    keras.utils.set_random_seed(3)
    inputs = keras.Input((10, 10, 3))
    h = keras.layers.Conv2D(4, 3, activation="relu", name="conv1")(inputs)
    h = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(h)
    h = keras.layers.Flatten(name="flat")(h)
    out = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inputs, out)


@pytest.fixture(scope="module")
def models():
    # tiny_cnn ends in a softmax: the methods run with logits=False, like the oracle
    return {"functional": _functional_model(), "tiny": tiny_cnn()}


def _activations_and_gradients(model, layer: str, batch: np.ndarray, target: int):
    """A and d score / dA: the model split at the layer for a functional model, the
    layers called in turn for a Sequential one."""
    return feature_and_gradient(model, layer, batch, lambda out: out[:, target])


CASES = [("functional", "conv1", (10, 10, 3)), ("functional", "conv2", (10, 10, 3)),
         ("tiny", "conv_a", (8, 8)), ("tiny", "conv_b", (8, 8))]


@pytest.mark.parametrize("method", FAMILY, ids=lambda m: m.__name__)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_layer_map_equals_the_numpy_formula(models, method, case):
    name, layer, shape = case
    model = models[name]
    cam = method(model, layer, logits=False)  # the oracle differentiates the model's output
    image = np.random.default_rng(len(layer) + len(name)).uniform(0, 255, shape)
    image = image.astype(np.float32)
    batch = cam.engine.prepare(image)
    height, width = batch.shape[1:3]
    nonzero = 0
    for target in range(3):
        a, g = _activations_and_gradients(model, layer, batch, target)
        want = FORMULAS[method](a, g)
        got = cam(image, target=target, upsample=False)
        assert got.shape == a.shape[:2] and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(want.max(), 1e-9))
        nonzero += want.max() > 0
        # the default call: the same map upsampled as Grad-CAM does, divided by its max
        up = upsample_heatmap(want, height, width)
        scaled = up / up.max() if up.max() > 0 else up
        np.testing.assert_allclose(cam(image, target=target), scaled, rtol=1e-4, atol=1e-5)
    assert nonzero > 0
    top = int(np.argmax(model(batch)))
    np.testing.assert_array_equal(cam(image, upsample=False), cam(image, top, upsample=False))


def test_gradcam_plusplus_with_normalised_alphas_equals_its_formula(models):
    """Each channel's alphas divided by their spatial sum, written out position by position."""
    model = models["functional"]
    cam = GradCAMPlusPlus(model, "conv2", logits=False, normalize_alphas=True)
    image = np.random.default_rng(8).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    batch = cam.engine.prepare(image)
    nonzero = 0
    for target in range(3):
        a, g = _activations_and_gradients(model, "conv2", batch, target)
        h, w, c = a.shape
        weights = np.zeros(c)
        for k in range(c):
            alphas = np.zeros((h, w))
            for i in range(h):
                for j in range(w):
                    denom = 2 * g[i, j, k] ** 2 + a[..., k].sum() * g[i, j, k] ** 3
                    alphas[i, j] = g[i, j, k] ** 2 / denom if denom != 0 else 0.0
            total = alphas.sum()
            alphas = alphas / total if total != 0 else alphas
            weights[k] = (alphas * _relu(g[..., k])).sum()
        want = _relu(a @ weights)
        got = cam(image, target=target, upsample=False)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * max(want.max(), 1e-9))
        nonzero += want.max() > 0
    assert nonzero > 0
    assert GradCAMPlusPlus(model, "conv2").normalize_alphas is False


def test_eigencam_needs_no_target_and_no_gradient(models):
    cam = EigenCAM(models["functional"], "conv2")
    image = np.random.default_rng(9).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    first = cam(image, target=0, upsample=False)
    np.testing.assert_array_equal(first, cam(image, target=2, upsample=False))
    assert cam(image).max() == pytest.approx(1.0)


def test_every_method_is_a_gradcam_with_its_defaults_and_errors():
    model = tiny_cnn()
    for method in FAMILY:
        assert issubclass(method, GradCAM)
        assert method(model).layer == GradCAM(model).layer == "conv_b"
        with pytest.raises(LayerNotFoundError, match="conv_b"):
            method(model, "conv_bb")
        with pytest.raises(LayerNotViewableError, match="spatial"):
            method(model, "probs")


# --- Score-CAM and Ablation-CAM: weights from forward passes, no gradient -------------


def _chain(model, x: np.ndarray, after: str | None = None, upto: str | None = None):
    """Call a chain model's layers in turn: those after ``after`` up to ``upto``."""
    import keras

    out = x
    running = after is None
    for each in model.layers:
        if isinstance(each, keras.layers.InputLayer):
            continue
        if running:
            out = each(out, training=False)
        if each.name == upto:
            break
        running = running or each.name == after
    return np.asarray(out, dtype=np.float64)


def _zoom_masks(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """Each channel zoomed (scipy, order 1) to the input's size and min-max scaled, (C, H, W)."""
    from scipy.ndimage import zoom

    masks = []
    for k in range(a.shape[-1]):
        up = zoom(a[..., k], (height / a.shape[0], width / a.shape[1]), order=1, mode="nearest")
        assert up.shape == (height, width)
        span = up.max() - up.min()
        masks.append((up - up.min()) / span if span > 0 else np.zeros_like(up))
    return np.stack(masks)


def scorecam(model, layer: str, batch: np.ndarray, target: int,
             channels: np.ndarray | None = None) -> np.ndarray:
    """Score-CAM by brute force: each masked input alone through the plain Keras model."""
    a = _chain(model, batch, upto=layer)[0]
    masks = _zoom_masks(a, *batch.shape[1:3])
    channels = np.arange(a.shape[-1]) if channels is None else channels
    weights = np.zeros(a.shape[-1])
    for k in channels:
        masked = (batch[0] * masks[k][..., None])[None].astype(np.float32)
        weights[k] = np.asarray(model(masked, training=False), dtype=np.float64)[0, target]
    return _relu(a @ weights)


def ablationcam(model, layer: str, batch: np.ndarray, target: int) -> np.ndarray:
    """Ablation-CAM by hand: zero one channel, run the layers after it, relative drop."""
    a = _chain(model, batch, upto=layer)
    y = _chain(model, a.astype(np.float32), after=layer)[0, target]
    weights = np.empty(a.shape[-1])
    for k in range(a.shape[-1]):
        ablated = a.copy()
        ablated[..., k] = 0.0
        weights[k] = (y - _chain(model, ablated.astype(np.float32), after=layer)[0, target]) / y
    return _relu(a[0] @ weights)


def _linear_twin(name: str, model):
    """The same model with its final softmax removed (a plain copy when already linear)."""
    builder = {"functional": _functional_model, "tiny": tiny_cnn}[name]
    return copy_model(builder, model, linear_head=True)


PERTURBATION = [ScoreCAM, AblationCAM]
# the score each method uses by default: Score-CAM the model's output (probabilities),
# Ablation-CAM the logits
PERTURBATION_ORACLES = {ScoreCAM: (scorecam, False), AblationCAM: (ablationcam, True)}


@pytest.mark.parametrize("method", PERTURBATION, ids=lambda m: m.__name__)
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}")
def test_perturbation_cam_equals_its_brute_force_formula(models, method, case):
    name, layer, shape = case
    model = models[name]
    oracle, logits = PERTURBATION_ORACLES[method]
    cam = method(model, layer, batch_size=3)
    assert cam.logits is logits and cam.uses_gradients is False
    scored = _linear_twin(name, model) if logits else model
    image = np.random.default_rng(len(layer) + 3 * len(name)).uniform(0, 255, shape)
    image = image.astype(np.float32)
    batch = cam.engine.prepare(image)
    nonzero = 0
    for target in range(3):
        want = oracle(scored, layer, batch, target)
        got = cam(image, target=target, upsample=False)
        assert got.shape == want.shape and got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(want.max(), 1e-9))
        nonzero += want.max() > 0
        up = upsample_heatmap(want, *batch.shape[1:3])
        scaled = up / up.max() if up.max() > 0 else up
        np.testing.assert_allclose(cam(image, target=target), scaled, rtol=1e-4, atol=1e-5)
    assert nonzero > 0
    top = int(np.argmax(model(batch)))
    np.testing.assert_array_equal(cam(image, upsample=False), cam(image, top, upsample=False))


@pytest.mark.parametrize("method", PERTURBATION, ids=lambda m: m.__name__)
def test_the_other_score_choice_also_equals_the_formula(models, method):
    """Score-CAM on the logits, Ablation-CAM on the probabilities (logits= flipped)."""
    model = models["tiny"]
    oracle, logits = PERTURBATION_ORACLES[method]
    cam = method(model, "conv_b", logits=not logits)
    scored = model if logits else _linear_twin("tiny", model)
    image = np.random.default_rng(5).uniform(0, 255, (8, 8)).astype(np.float32)
    batch = cam.engine.prepare(image)
    for target in range(3):
        want = oracle(scored, "conv_b", batch, target)
        got = cam(image, target=target, upsample=False)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(want.max(), 1e-9))
    assert model.layers[-1].activation.__name__ == "softmax"  # restored after each call


@pytest.mark.parametrize("method", PERTURBATION, ids=lambda m: m.__name__)
def test_batch_size_changes_nothing_and_batches_are_per_image(models, method):
    model = models["functional"]
    rng = np.random.default_rng(11)
    images = rng.uniform(0, 255, (3, 10, 10, 3)).astype(np.float32)
    single = method(model, "conv2", batch_size=1)
    target = max(range(3), key=lambda t: single(images[0], t, upsample=False).max())
    maps = {size: method(model, "conv2", batch_size=size)(images[0], target, upsample=False)
            for size in (1, 2, 5, 64)}
    assert maps[1].max() > 0
    for size in (2, 5, 64):  # float32 convolutions of another batch size may round apart
        np.testing.assert_allclose(maps[size], maps[1], rtol=1e-5, atol=1e-6 * maps[1].max())
    cam = method(model, "conv2", batch_size=2)
    batch = np.concatenate([cam.prepare(image) for image in images])
    together = cam.attribute(batch)
    assert together.shape == (3, 8, 8)
    for i, image in enumerate(images):  # target None: each image's own predicted class
        own = int(np.argmax(model(batch[i:i + 1])))
        alone = cam(image, own, upsample=False)  # its perturbed copies batched otherwise
        np.testing.assert_allclose(together[i], alone, rtol=1e-5,
                                   atol=1e-6 * max(alone.max(), 1e-12))
    alone = cam(images[1], 2, upsample=False)
    np.testing.assert_allclose(cam.attribute(batch, target=2)[1], alone, rtol=1e-5,
                               atol=1e-6 * max(alone.max(), 1e-12))


@pytest.mark.parametrize("method", PERTURBATION, ids=lambda m: m.__name__)
def test_an_explored_image_runs_no_layer_before_the_target(models, method):
    """With the layer in the engine's cache, only the forward passes of the method run."""
    from cnnviz_widgets import ActivationEngine

    model = models["tiny"]
    image = np.random.default_rng(2).uniform(0, 255, (8, 8)).astype(np.float32)
    fresh = method(model, "conv_b", batch_size=4)(image, target=1, upsample=False)
    explored = ActivationEngine(model)
    explored.activation("conv_b", image)  # what a layer dropdown does
    plan = explored.plan
    key = plan.by_name["conv_b"].outputs[0]
    head = len(explored._needed(list(plan.output_keys), lambda k: k == key))
    whole = len(explored._needed(list(plan.output_keys), lambda k: False))
    before = explored.stats.layer_evaluations
    again = method(explored, "conv_b", batch_size=4)(image, target=1, upsample=False)
    np.testing.assert_array_equal(again, fresh)
    passes = 2  # six channels in batches of four
    per_pass = whole if method is ScoreCAM else head  # masked inputs run the whole model
    assert explored.stats.layer_evaluations - before == head + passes * per_pass


def test_scorecam_max_channels_scores_the_channels_that_vary_most(models):
    model = models["functional"]
    image = np.random.default_rng(4).uniform(0, 255, (10, 10, 3)).astype(np.float32)
    cam = ScoreCAM(model, "conv2", max_channels=2)
    batch = cam.engine.prepare(image)
    a = _chain(model, batch, upto="conv2")[0]
    spread = a.reshape(-1, a.shape[-1]).std(axis=0)
    assert len(set(np.round(spread, 6))) == a.shape[-1]  # no tie decides the choice
    top = np.argsort(spread)[::-1][:2]
    for target in range(3):
        want = scorecam(model, "conv2", batch, target, channels=top)
        got = cam(image, target=target, upsample=False)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * max(want.max(), 1e-9))
    every = ScoreCAM(model, "conv2", max_channels=5)(image, 0, upsample=False)
    np.testing.assert_allclose(every, ScoreCAM(model, "conv2")(image, 0, upsample=False),
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("method", PERTURBATION, ids=lambda m: m.__name__)
def test_progress_counts_the_scored_channels(models, method):
    steps = []
    cam = method(models["tiny"], "conv_b", batch_size=4, progress=lambda s, t: steps.append((s, t)))
    images = np.random.default_rng(0).uniform(0, 255, (2, 8, 8)).astype(np.float32)
    cam.attribute(np.concatenate([cam.prepare(image) for image in images]))
    assert steps == [(4, 12), (6, 12), (10, 12), (12, 12)]
    per_call = []
    heat = cam(images[0], progress=lambda s, t: per_call.append((s, t)))
    assert per_call == [(4, 6), (6, 6)] and heat.shape == (8, 8)
    assert steps[4:] == []  # the call's own progress, not the one built in
    cam(images[0])
    assert steps[4:] == [(4, 6), (6, 6)]


@pytest.mark.parametrize("method", PERTURBATION, ids=lambda m: m.__name__)
def test_perturbation_cams_keep_gradcams_defaults_and_errors(method):
    model = tiny_cnn()
    assert issubclass(method, GradCAM)
    assert method(model).layer == "conv_b" and method(model).batch_size == 32
    with pytest.raises(LayerNotFoundError, match="conv_b"):
        method(model, "conv_bb")
    with pytest.raises(LayerNotViewableError, match="spatial"):
        method(model, "probs")
    for bad in (0, -3, 2.5, True, "8"):
        with pytest.raises(InvalidSettingError, match="batch_size"):
            method(model, batch_size=bad)
    with pytest.raises(IndexError, match="There is no class 3"):
        method(model)(np.zeros((8, 8), np.float32), target=3)


def test_scorecam_max_channels_is_a_positive_count_and_all_of_them_at_most():
    model = tiny_cnn()
    for bad in (0, -1, 1.5):
        with pytest.raises(InvalidSettingError, match="max_channels"):
            ScoreCAM(model, "conv_b", max_channels=bad)
    assert ScoreCAM(model, "conv_b", max_channels=5).max_channels == 5
    # as many as the layer has (6), or more: every channel, as with None
    assert ScoreCAM(model, "conv_b", max_channels=6).max_channels is None
    assert ScoreCAM(model, "conv_b", max_channels=64).max_channels is None
