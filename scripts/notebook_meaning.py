"""The cells of notebook 08, "What do units mean?" (written by make_notebooks.py)."""

from __future__ import annotations

MEANING = [
    ("markdown", """# What do units mean?

Three ways to ask what the units of a network stand for, on **Fashion-MNIST** with the small
network shipped with `cnnviz_widgets` (the images come from Debian's `dataset-fashion-mnist`
package, see notebook 06):

1. **Which class does each channel prefer, and how much?** A scan with labels keeps each
   channel's mean per class and its *class selectivity* (Morcos et al., 2018).
2. **Are there directions that mean more than single channels?** `find_concepts` factorises
   a layer's activations over the set into a few non-negative *concepts* (as CRAFT does).
3. **Do you really understand a unit?** A quiz: given a channel's top images, which of two
   images drives it more? (People get this right 92% of the time from natural top images,
   Borowski et al., 2021.)"""),
    ("code", """import numpy as np
from cnnviz_widgets import explore, find_concepts, quiz, scan, zoo

try:
    images, labels = zoo.fashion_mnist("test")
except zoo.DatasetUnavailableError as missing:
    raise zoo.DatasetUnavailableError(
        "This notebook needs the Fashion-MNIST images (see notebook 06). " + str(missing)
    ) from None
images, labels = images[:3000], labels[:3000]
model = zoo.fashion_cnn()
classes = zoo.FASHION_MNIST_CLASSES"""),
    ("markdown", """## 1. Labels and selectivity of every channel

`class_means[c, k]` is the mean over the images of class k of channel c's spatial mean.
Selectivity is `(mu_max - mu_rest) / (mu_max + mu_rest)`, `mu_max` the largest class mean and
`mu_rest` the mean of the others: 1 for a channel that fires for one class only, 0 for one that
fires alike for all. `label(c)` says both in words."""),
    ("code", """result = scan(model, images, ["conv1", "conv2", "conv3"], labels=labels,
              class_names=classes, progress=False)
for layer in result.layers:
    s = result[layer]
    best = np.argsort(-s.class_selectivity)[:3]
    print(f"{layer}: mean selectivity {s.class_selectivity.mean():.2f}; most selective:",
          "; ".join(f"{c}: {s.label(c)}" for c in best))"""),
    ("markdown", """Deeper layers are more selective: `conv1` finds edges that every class has,
`conv3` parts that some classes have and others not. In the explorer's dataset view each
channel shows its label and a bar chart of its class means, and the **layer table** lists every
channel by selectivity (or by class); click a row to open that channel."""),
    ("code", """ex = explore(model, images[:8], dataset=result, include_samples=False,
             class_names=classes)
ex.layer = "conv3"
ex.channel = int(np.argmax(result["conv3"].class_selectivity))
ex"""),
    ("markdown", """## 2. Concepts of the last convolution

Every position of every image is a vector of 64 non-negative activations of `conv3`;
non-negative matrix factorisation writes them as mixtures of 6 concepts. Each concept has its
top images (cropped to what it sees), a preferred class, and an *importance* for a class: the
gradient of the class score along the concept, times how much of the concept there is."""),
    ("code", """concepts = find_concepts(model, images, "conv3", n=6, labels=labels,
                         class_names=classes)
print(f"reconstruction error {concepts.reconstruction_error:.2f}")
for i in range(concepts.n):
    print(f"concept {i}: {concepts.label(i)}")"""),
    ("code", """from cnnviz_widgets.render.crops import crop_picture
from matplotlib.figure import Figure

fig = Figure(figsize=(8, 1.4 * concepts.n))
axes = fig.subplots(concepts.n, 6)
for i in range(concepts.n):
    for j, crop in enumerate(concepts.crops(i)[:6]):
        axes[i, j].imshow(crop_picture(crop, 56))
    for ax in axes[i]:
        ax.set_axis_off()
    axes[i, 0].set_title(f"concept {i}", fontsize=8, loc="left")
fig"""),
    ("markdown", """Which concepts make the network say *Sneaker*, and which *Trouser*?"""),
    ("code", """for name in ("Sneaker", "Trouser"):
    importance = concepts.importance(classes.index(name), limit=128)
    order = np.argsort(-importance)
    print(name + ":", ", ".join(f"concept {i} ({importance[i]:+.3f})" for i in order[:3]))"""),
    ("markdown", """## 3. A quiz

Each question shows a channel's top images and two others; pick the one that drives the
channel more. The same seed gives the same questions; `q.export_html("quiz.html")` writes them
as a page that works without Python, for a course page."""),
    ("code", """q = quiz(model, images, "conv3", questions=5, seed=0)
q"""),
    ("code", """q.export_html("quiz.html")
print("questions:", len(q.questions), "| answered:", len(q.results), "| score:", q.score)"""),
]

