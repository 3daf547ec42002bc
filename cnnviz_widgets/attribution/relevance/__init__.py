"""Relevance: layer-wise relevance propagation (LRP) and concept relevance (CRP).

One concept a module: :mod:`.rules` (how a linear layer divides relevance),
:mod:`.composites` (which rule each layer gets, by Zennit's names), :mod:`.canonizers`
(layers as linear maps, batch normalisation folded in), :mod:`.propagate` (the backward
pass over the model's layers), :mod:`.lrp` (:class:`LRP`) and :mod:`.crp`
(:class:`ChannelRelevance`).
"""

from .composites import COMPOSITES, Composite, make_composite
from .crp import ChannelRelevance
from .lrp import LRP
from .rules import AlphaBeta, Epsilon, Flat, Gamma, Rule, WSquare, ZBox, ZPlus

__all__ = ["COMPOSITES", "LRP", "AlphaBeta", "ChannelRelevance", "Composite", "Epsilon",
           "Flat", "Gamma", "Rule", "WSquare", "ZBox", "ZPlus", "make_composite"]
