"""A recording comm, as ipywidgets' own tests use: every widget's messages are kept."""

from __future__ import annotations

import itertools
from collections import Counter

import ipywidgets.widgets.widget as widget_module
import pytest

_ids = itertools.count()


class RecordingComm:
    """Stands in for the kernel's comm: keeps what a widget would send to the front end."""

    kernel = "recording"

    def __init__(self, **kwargs):
        self.comm_id = kwargs.get("comm_id") or f"comm-{next(_ids)}"
        self.messages: list[dict] = []

    def send(self, data=None, buffers=None, **kwargs):
        self.messages.append(data or {})

    def on_msg(self, callback):
        pass

    def open(self, *args, **kwargs):
        pass

    def close(self, *args, **kwargs):
        pass


class CommLog:
    """Counts the update messages each widget sent since :meth:`mark`."""

    def __init__(self):
        self._start: dict[int, int] = {}

    @staticmethod
    def _widgets():
        return [w for w in list(widget_module._instances.values())
                if isinstance(getattr(w, "comm", None), RecordingComm)]

    def mark(self) -> None:
        self._start = {id(w): len(w.comm.messages) for w in self._widgets()}

    def updates(self) -> Counter:
        """{widget model id: number of "update" messages since mark()}."""
        counts: Counter = Counter()
        for w in self._widgets():
            new = w.comm.messages[self._start.get(id(w), 0):]
            n = sum(1 for m in new if m.get("method") == "update")
            if n:
                counts[w.model_id] = n
        return counts

    def updated(self, widget) -> list[set[str]]:
        """For each update message ``widget`` sent since mark(), the names it changed
        (bytes travel as buffers, named by their buffer paths)."""
        new = widget.comm.messages[self._start.get(id(widget), 0):]
        return [set(m.get("state", {})) | {path[0] for path in m.get("buffer_paths", [])}
                for m in new if m.get("method") == "update"]


@pytest.fixture
def comm_log(monkeypatch):
    """Widgets created while this fixture is active record their messages."""
    monkeypatch.setattr(widget_module.comm, "create_comm", lambda **kw: RecordingComm(**kw))
    return CommLog()
