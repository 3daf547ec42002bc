"""The cells of notebook 09, "What is this decision built from?" (written by make_notebooks.py)."""

from __future__ import annotations

RELEVANCE = [
    ("markdown", """# What is this decision built from?

A gradient says where the class score is *sensitive*; **relevance** says what the score was
*built from*, and it adds up. Layer-wise relevance propagation (LRP) hands the class's logit
back through the network, layer by layer, with a rule per kind of layer (a *composite*, named
as Zennit names them); the pixels' shares add up to the logit. Concept relevance propagation
(CRP, Achtibat et al. 2023) keeps, at one layer, only the relevance that flows through chosen
channels: where *this channel* is relevant for *this class* in *this image*, and how much.
Ranking a data set's images by a channel's relevance (RelMax) shows what the channel stands
for when it is used for the decision, not only when it fires.

Two models: EfficientNet-Lite0 trained on ImageNet (offline, extra `offline-imagenet`) on the
photos that installed packages ship, and the small Fashion-MNIST network of the zoo."""),
    ("code", """%matplotlib inline
import numpy as np
from matplotlib.figure import Figure

from cnnviz_widgets import ActivationEngine, explore, scan, zoo
from cnnviz_widgets.attribution import LRP, ChannelRelevance, overlay
from cnnviz_widgets.meaning import relevance_scan

engine = ActivationEngine(zoo.efficientnet_lite0())
photos = zoo.samples(["chelsea", "coffee"])
names = zoo.imagenet_labels()"""),
    ("markdown", """## 1. LRP on the photos

The `epsilon_plus_flat` composite (z-plus in the convolutions, epsilon in the dense layer,
flat in the first layer) gives sharp maps; the attribution panel (`AttributionPanel`, method
*LRP*) switches composites with a dropdown. Red is evidence for the predicted class."""),
    ("code", """lrp = LRP(engine, composite="epsilon_plus_flat")
fig = Figure(figsize=(6, 4.6))
axes = fig.subplots(len(photos), 2)
for row, photo in zip(axes, photos):
    probabilities = np.asarray(engine.activation(engine.output, photo.image)).reshape(-1)
    pixels = engine.pixels(photo.image)
    row[0].imshow(pixels)
    row[0].set_title(f"{photo.name}: {names[int(np.argmax(probabilities))]}", fontsize=9)
    row[1].imshow(overlay(pixels, np.maximum(lrp(photo.image), 0), alpha=0.6))
    row[1].set_title("LRP, epsilon_plus_flat", fontsize=9)
for ax in axes.ravel():
    ax.set_axis_off()
fig"""),
    ("markdown", """## 2. Which channels is the cat built from? (CRP)

`ChannelRelevance.scores` gives every channel of a layer its share of the class's relevance
(they add up to what enters the layer); `ChannelRelevance(image, channels=[...])` draws, for
each chosen channel, where it is relevant, all channels in one batched backward pass."""),
    ("code", """cat = photos[0].image
layer = "top_relu"  # the 1,280 features the classifier reads
cr = ChannelRelevance(engine, layer)
scores = cr.scores(cat)
top = np.argsort(-scores)[:4]
maps = cr(cat, channels=top)
pixels = engine.pixels(cat)
fig = Figure(figsize=(8, 2.4))
for ax, channel, heat in zip(fig.subplots(1, len(top)), top, maps):
    ax.imshow(overlay(pixels, np.maximum(heat, 0), alpha=0.6))
    ax.set_title(f"channel {channel}: {scores[channel] / scores.sum():.0%}", fontsize=9)
    ax.set_axis_off()
fig"""),
    ("markdown", """## 3. Fashion-MNIST: top images by activation and by relevance

The zoo's Fashion-MNIST network, on 400 test images. For a channel of `conv3`, the images
that make it fire most are not always those where it matters most for the decision:
`relevance_scan` ranks them by the channel's relevance for each image's predicted class (or a
class of your choice), with the scan's own top-k lists."""),
    ("code", """try:
    images, labels = zoo.fashion_mnist("test")
except zoo.DatasetUnavailableError as missing:
    raise zoo.DatasetUnavailableError(
        "This part needs the Fashion-MNIST images (see notebook 06). " + str(missing)
    ) from None
images, labels = images[:400], labels[:400]
fashion = zoo.fashion_cnn()
classes = zoo.FASHION_MNIST_CLASSES
by_activation = scan(fashion, images, ["conv3"], labels=labels, class_names=classes,
                     top_k=6, progress=False)["conv3"]
by_relevance = relevance_scan(fashion, images, "conv3", labels=labels, class_names=classes,
                              top_k=6, progress=False)["conv3"]
# the channel whose two top lists share the fewest images (ties: the most relevant)
channel = min(range(by_relevance.channels),
              key=lambda c: (len(set(by_activation.top_indices[c])
                                 & set(by_relevance.top_indices[c])),
                             -by_relevance.top_values[c, 0]))
print(f"conv3 channel {channel}: by activation {by_activation.top_indices[channel]}, "
      f"by relevance {by_relevance.top_indices[channel]}")"""),
    ("code", """fig = Figure(figsize=(8, 3.2))
axes = fig.subplots(2, 6)
for row, (title, stats) in zip(axes, [("activation", by_activation),
                                      ("relevance", by_relevance)]):
    for ax, index, value in zip(row, stats.top_indices[channel], stats.top_values[channel]):
        ax.imshow(images[index], cmap="gray")
        ax.set_title(f"{classes[labels[index]]}\\n{value:.2g}", fontsize=8)
        ax.set_axis_off()
    row[0].text(-8, 14, title, rotation=90, va="center", ha="right", fontsize=9)
fig"""),
    ("markdown", """The same channel on one of its top images: the LRP map of the predicted class,
and the part of it that flows through the channel (CRP)."""),
    ("code", """picked = images[by_relevance.top_indices[channel, 0]]
whole = LRP(fashion)(picked)
part = ChannelRelevance(fashion, "conv3")(picked, channels=[channel])[0]
fig = Figure(figsize=(6, 2.2))
for ax, (title, picture) in zip(fig.subplots(1, 3), [
        ("image", picked), ("LRP", whole), (f"CRP, channel {channel}", part)]):
    ax.imshow(picture, cmap="gray" if title == "image" else "bwr",
              **({} if title == "image" else {"vmin": -1, "vmax": 1}))
    ax.set_title(title, fontsize=9)
    ax.set_axis_off()
fig"""),
    ("markdown", """In the explorer, `channel_order = "relevance"` orders the grid by each channel's
relevance for `target` (the predicted class when None) on the current image, computed once
per image, layer and class; the dataset view shows, beside the top images by activation, the
top images by relevance (press *Rank by relevance*), and *Explain channel* adds where the
channel is relevant for the predicted class. The attribution panel offers LRP with a composite
dropdown and CRP for a chosen channel."""),
    ("code", """ex = explore(fashion, images[:8], dataset=images, dataset_labels=labels,
             class_names=classes, include_samples=False, dataset_top_k=6)
ex.layer = "conv3"
ex.channel_order = "relevance"
ex"""),
]
