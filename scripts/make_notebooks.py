"""Write the notebooks in notebooks/ from the cell sources below (keeps them diff-friendly).

Run ``python scripts/make_notebooks.py`` after editing; outputs are not stored.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

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
ex = explore(model, images[:8])
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


if __name__ == "__main__":
    main()
