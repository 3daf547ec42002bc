"""Grad-CAM, saliency, SmoothGrad and integrated gradients on VGG16 224x224, vs tf-keras-vis 0.8.7.

Both libraries explain the same class of the same prepared input on twin VGG16 models
with identical weights (tf-keras-vis gets its own copy, because ``ReplaceToLinear``
clones and modifies the model it is given). Each method is built once and then called
repeatedly ("warm"); the table reports the median time per call. The notes column
gives the Pearson correlation of the two libraries' maps, so the comparison is of the
same computation: the raw 14x14 maps agree to float precision, while the upsampled maps
differ by the interpolation (ours: half-pixel bilinear; tf-keras-vis: ``scipy.ndimage.zoom``
with ``order=1``, which aligns the corners).

SmoothGrad (20 samples) is timed once per library (seconds per call); the goal is ours at
least 2x faster: tf-keras-vis takes the gradient of one noisy copy at a time on an eager
tape, ours of ``batch_size`` copies per call of a compiled gradient. Integrated gradients
(32 steps, black baseline) has no tf-keras-vis counterpart.

Each method also has a row against its *limit*, measured in the same run: the bare
batched gradients it needs, through the same primitive
(:meth:`~cnnviz_widgets.attribution.GradientMethod.input_gradients`, one compiled
program of the gradient of the class logit with respect to the input, on batches of the
same sizes): saliency against one forward and backward pass of one image (goal: within
1.2x), SmoothGrad against a batch of 16
and one of 4 (its 20 copies, ``batch_size=16``), integrated gradients against two
batches of 16 (its 32 path points); goal for both: within 1.5x. The method and its limit
alternate, and the ratio is the median of the rounds' ratios. tf-keras-vis runs only
under TensorFlow; under another Keras backend its rows say so.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

from ._models import vgg16_classifier
from ._table import Row, median_seconds, paired_seconds

BASELINE = "tf-keras-vis 0.8.7"
SMOOTH_SAMPLES = 20
SMOOTH_NOISE = 0.20  # tf-keras-vis's default noise level; ours is given the same
SMOOTH_GOAL = 2.0  # tf-keras-vis's time / ours
IG_STEPS = 32
CAM_LAYER = "block5_conv3"


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _timed_once(fn):
    """(seconds, result) of one call of ``fn``."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _quiet(fn):
    """``fn`` with Keras's warning about tf-keras-vis passing inputs as a list silenced."""
    def call():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            return fn()
    return call


def _peer():
    """tf-keras-vis's classes, or None when it is not installed (or Keras does not run
    on TensorFlow, which it needs)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tf_keras_vis.gradcam import Gradcam
        from tf_keras_vis.saliency import Saliency as PeerSaliency
        from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
        from tf_keras_vis.utils.scores import CategoricalScore
    except ImportError:
        return None
    return Gradcam, PeerSaliency, ReplaceToLinear, CategoricalScore


def _smooth_goal(ours_s: float, baseline_s: float) -> str:
    ratio = baseline_s / ours_s
    return f"{ratio:.1f}x ({'met' if ratio >= SMOOTH_GOAL else 'MISSED'})"


def _limit_rows(label: str, sal, batch: np.ndarray, target: int,
                methods: dict[str, tuple], repeat: int) -> list[Row]:
    """Each method against the bare batched gradients it needs, through the same
    primitive (:meth:`~cnnviz_widgets.attribution.GradientMethod.input_gradients`, one
    compiled program); the two alternate in each round, so a change of the machine's
    load hits both alike, and the ratio is the median of the rounds' ratios."""
    from cnnviz_widgets.attribution import ClassScore

    score = ClassScore(target)
    batches = {n: np.repeat(batch, n, axis=0) for n in (1, 4, 16)}

    def bare(*sizes):
        return lambda: [sal.input_gradients(batches[n], score) for n in sizes]

    for n in batches:
        sal.input_gradients(batches[n], score)  # warm for each batch size
    rows = []
    for what, (ours, sizes, name, goal, rounds) in methods.items():
        limit = bare(*sizes)
        ours_times, limit_times = paired_seconds(ours, limit, rounds)
        ratio = float(np.median(np.divide(ours_times, limit_times)))
        ours_s, limit_s = float(np.median(ours_times)), float(np.median(limit_times))
        rows.append(Row("attribution", label, what, ours_s, limit_s, name, f"<= {goal}x the limit",
                        extra=f"median of {rounds} paired ratios {ratio:.2f}x "
                              f"({'met' if ratio <= goal else 'MISSED'})"))
    return rows


def run(repeat: int = 3, smooth: bool = True) -> list[Row]:
    """Time Grad-CAM (block5_conv3), saliency and SmoothGrad per image, ours and the peer's.

    ``smooth=False`` leaves out the SmoothGrad row (20 samples, one timed call per
    library) and the integrated-gradients row (one timed call).
    """
    from cnnviz_widgets import ActivationEngine
    from cnnviz_widgets.attribution import GradCAM, IntegratedGradients, Saliency, SmoothGrad

    # random weights are enough for speed; the classifier gives class scores
    model, label = vgg16_classifier()
    label += ", random image"
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    image.flags.writeable = False

    engine = ActivationEngine(model)
    cam = GradCAM(engine, layer=CAM_LAYER)
    sal = Saliency(engine)
    batch = np.array(engine.prepare(image))  # the exact input both libraries see
    target = int(np.argmax(model(batch, training=False)))

    ours_cam_map = cam(image, target=target)  # also warms up TensorFlow
    ours_cam_raw = cam(image, target=target, upsample=False)
    ours_sal_map = sal(image, target=target)
    ours_cam = median_seconds(lambda: cam(image, target=target), repeat)
    ours_sal = median_seconds(lambda: sal(image, target=target), repeat)
    smooth_grad = SmoothGrad(sal, samples=SMOOTH_SAMPLES, noise=SMOOTH_NOISE, seed=0)
    integrated = IntegratedGradients(engine, steps=IG_STEPS)
    if smooth:  # the saliency calls above already compiled the gradient for this class
        ours_smooth, ours_smooth_map = _timed_once(lambda: smooth_grad(image, target=target))
        ours_ig, _ = _timed_once(lambda: integrated(image, target=target))

    what_cam = f"Grad-CAM {CAM_LAYER}, per image"
    what_sal = "saliency (vanilla gradient), per image"
    what_smooth = f"SmoothGrad {SMOOTH_SAMPLES} samples, per image (1 run)"
    what_ig = f"integrated gradients {IG_STEPS} steps, black baseline, per image (1 run)"
    smooth_goal = f">= {SMOOTH_GOAL:g}x faster"
    methods = {"saliency vs its limit": (lambda: sal(image, target=target), (1,),
                                         "limit: 1 fwd+bwd, batch 1", 1.2, max(repeat, 5))}
    if smooth:
        methods[f"SmoothGrad {SMOOTH_SAMPLES} samples vs its limit"] = (
            lambda: smooth_grad(image, target=target), (16, 4),
            "limit: fwd+bwd of batches 16 + 4", 1.5, 2)
        methods[f"integrated gradients {IG_STEPS} steps vs its limit"] = (
            lambda: integrated(image, target=target), (16,) * (IG_STEPS // 16),
            f"limit: {IG_STEPS // 16} fwd+bwd of batch 16", 1.5, 2)
    limits = _limit_rows(label, sal, batch, target, methods, repeat)
    peer = _peer()
    if peer is None:
        import keras

        note = ("tf-keras-vis runs on TensorFlow only" if keras.backend.backend() != "tensorflow"
                else "tf-keras-vis not installed")
        rows = [Row("attribution", label, what_cam, ours_cam, None, BASELINE, extra=note),
                Row("attribution", label, what_sal, ours_sal, None, BASELINE, extra=note)]
        if smooth:
            rows += [Row("attribution", label, what_smooth, ours_smooth, None, BASELINE,
                         smooth_goal, extra=note),
                     Row("attribution", label, what_ig, ours_ig, None, "",
                         extra="no tf-keras-vis counterpart")]
        return rows + limits

    Gradcam, PeerSaliency, ReplaceToLinear, CategoricalScore = peer
    twin, _ = vgg16_classifier()  # ReplaceToLinear clones and edits its model: never hand it ours
    twin.set_weights(model.get_weights())
    score = CategoricalScore([target])
    peer_cam = Gradcam(twin, model_modifier=ReplaceToLinear(), clone=True)
    peer_sal = PeerSaliency(twin, model_modifier=ReplaceToLinear(), clone=True)
    peer_cam_call = _quiet(lambda: peer_cam(score, batch, penultimate_layer=CAM_LAYER))
    peer_cam_raw = _quiet(lambda: peer_cam(score, batch, penultimate_layer=CAM_LAYER,
                                           expand_cam=False, normalize_cam=False))
    peer_sal_call = _quiet(lambda: peer_sal(score, batch))
    peer_smooth_call = _quiet(lambda: peer_sal(score, batch, smooth_samples=SMOOTH_SAMPLES,
                                               smooth_noise=SMOOTH_NOISE))

    peer_cam_map = peer_cam_call()[0]
    peer_cam_raw_map = peer_cam_raw()[0]
    peer_sal_map = peer_sal_call()[0]
    base_cam = median_seconds(peer_cam_call, repeat)
    base_sal = median_seconds(peer_sal_call, repeat)
    assert model.layers[-1].activation.__name__ == "softmax"  # the peer left ours alone

    raw_corr = _corr(ours_cam_raw, peer_cam_raw_map)
    rows = [
        Row("attribution", label, what_cam, ours_cam, base_cam, BASELINE,
            extra=f"corr {raw_corr:.4f} at {ours_cam_raw.shape[0]}x{ours_cam_raw.shape[1]}, "
                  f"{_corr(ours_cam_map, peer_cam_map):.3f} upsampled (bilinear vs zoom)"),
        Row("attribution", label, what_sal, ours_sal, base_sal, BASELINE,
            extra=f"corr {_corr(ours_sal_map, peer_sal_map):.4f}"),
    ]
    if smooth:
        base_smooth, peer_smooth_map = _timed_once(peer_smooth_call)
        rows += [Row("attribution", label, what_smooth, ours_smooth, base_smooth, BASELINE,
                     smooth_goal,
                     extra=f"{_smooth_goal(ours_smooth, base_smooth)}; corr "
                           f"{_corr(ours_smooth_map, peer_smooth_map[0]):.2f} "
                           "(independent noise)"),
                 Row("attribution", label, what_ig, ours_ig, None, "",
                     extra="no tf-keras-vis counterpart")]
    return rows + limits
