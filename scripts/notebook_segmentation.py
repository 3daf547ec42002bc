"""The cells of notebook 10, "Beyond classification" (written by make_notebooks.py)."""

from __future__ import annotations

SEGMENTATION = [
    ("markdown", """# Beyond classification: a network that labels every pixel

A classifier gives one answer per image. A **segmentation** network gives one answer per
*pixel*: its output has the image's height and width, and a score per class at each pixel.
This notebook uses a small fully convolutional network shipped with `cnnviz_widgets`
(`zoo.digits_segmenter()`, 78,891 parameters, trained offline): it reads 48 x 48 scenes of two
handwritten MNIST digits and says, for every pixel, *background* or *which digit's stroke*
(11 classes). Its encoder pools the scene down to 6 x 6 (where one position sees a whole
digit), its decoder brings it back to 48 x 48, and a softmax over the last axis gives the
probabilities."""),
    ("code", """%matplotlib inline
import numpy as np
from matplotlib.figure import Figure

from cnnviz_widgets import explore, zoo
from cnnviz_widgets.attribution import GradCAM, SegmentationTarget, overlay
from cnnviz_widgets.colour import colour_labels

model = zoo.digits_segmenter()
images, masks = zoo.digit_scenes("test")   # 500 held-out scenes, never seen in training
print(model.output_shape, "classes:", zoo.SCENE_CLASSES)"""),
    ("markdown", """## 1. How good is it on scenes it never saw?

The predicted class of a pixel is the largest of its 11 scores. Background is 90% of the
pixels, so the plain pixel accuracy flatters the model: the *foreground* accuracy (pixels of
a stroke) and the mean intersection over union of the classes say more."""),
    ("code", """probs = model.predict(images[..., None] / 255.0, batch_size=100, verbose=0)
predicted = probs.argmax(axis=-1)
table = np.zeros((11, 11), np.int64)
np.add.at(table, (masks.ravel(), predicted.ravel()), 1)
hits = np.diag(table)
print(f"pixel accuracy:            {hits.sum() / table.sum():.4f}")
print(f"foreground pixel accuracy: {hits[1:].sum() / table[1:].sum():.4f}")
print(f"mean IoU (11 classes):     {np.mean(hits / (table.sum(0) + table.sum(1) - hits)):.4f}")"""),
    ("markdown", """## 2. The explorer shows the predicted mask

For a model whose output is per pixel, the explorer shows the **predicted mask** under the
maps: the scene tinted by the class of each pixel, with a legend of the classes present. It
comes with the image's forward pass; moving the layer or the channel does not run the model
again. Look at `conv4` (6 x 6, the deepest maps) and at the decoder layers `dec3`, `dec2`,
`dec1`, which bring the answer back to full size.

The "class" and "relevance" channel orders explain *one* class score of a classifier; for
this model they say so in the panel instead."""),
    ("code", """ex = explore(model, images[:8], include_samples=False, layer="conv4")
ex"""),
    ("markdown", """## 3. Grad-CAM of one class over a region

Grad-CAM needs one number to explain. For a segmentation, a natural one is the score of
class `c` summed over a region (as Seg-Grad-CAM does): `SegmentationTarget(c, mask)`, where
`mask` is a (height, width) array of booleans; without a mask, the region is the pixels the
model gives to class `c`. `RegressionTarget(i)` explains one output of a regression model, and
any callable that maps the output batch to one number per image works as `target=` too."""),
    ("code", """index = 0
scene, labels = images[index], predicted[index]
found = [int(k) for k in np.unique(labels) if k > 0 and np.sum(labels == k) >= 20]
cam = GradCAM(model, layer="conv4")
fig = Figure(figsize=(2.4 * (len(found) + 2), 2.6))
axes = fig.subplots(1, len(found) + 2)
axes[0].imshow(scene, cmap="gray")
axes[0].set_title("scene", fontsize=9)
axes[1].imshow(colour_labels(labels, 11))
axes[1].set_title("predicted mask", fontsize=9)
for ax, c in zip(axes[2:], found):
    heat = cam(scene, target=SegmentationTarget(c, mask=labels == c))
    ax.imshow(overlay(scene, heat, alpha=0.5))
    ax.set_title(f"Grad-CAM: {zoo.SCENE_CLASSES[c]}", fontsize=9)
for ax in axes:
    ax.set_axis_off()
fig"""),
    ("markdown", """Each map is strongest on the digit whose class it explains: the evidence for
"this region is a 5" sits mostly on the 5. (Classes the model gives to fewer than 20 pixels, stray
mistakes at the edge of a stroke, are left out.)"""),
]
