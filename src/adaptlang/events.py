"""The one progress-event type every long job reports through (training core, adaptation, stage runner).

A job takes ``progress: Callable[[Event], None] | None``; the CLI turns events into rich bars and lines, tests
collect them in a list. The library never prints.

Kinds and the fields they fill:

``phase``   a step of preparation is starting: ``message``
``start``   training starts: ``total`` optimizer steps planned, ``step`` where it starts (non-zero on resume),
            ``epochs`` planned, ``epoch`` the first epoch run
``step``    an optimizer step finished: ``step``/``total``, ``epoch``, ``loss``, ``tokens_per_second`` (when known)
``epoch``   an evaluation point (end of an epoch): ``epoch``/``epochs``, ``loss`` (mean train loss), ``metrics``
            (dev scores), ``best`` (a new best), ``seconds`` (the epoch's wall time)
``done``    training or a stage finished: ``seconds``; ``message`` says why it stopped
``stage``   a stage of a run starts: ``stage``, ``index``/``count``
``skip``    a finished stage is reused: ``stage``, ``index``/``count``
``note``    anything worth telling the user: ``message``

``stage`` names the run or stage an event belongs to (empty for a single job).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

KINDS = ("phase", "start", "step", "epoch", "done", "stage", "skip", "note")


@dataclass(frozen=True)
class Event:
    kind: str
    stage: str = ""
    message: str = ""
    step: int = 0
    total: int = 0
    epoch: int = 0
    epochs: int = 0
    loss: float | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    best: bool = False
    seconds: float = 0.0
    tokens_per_second: float | None = None
    index: int = 0
    count: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}; valid: {', '.join(KINDS)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[Event], None]


def silent(event: Event) -> None:
    """A progress sink that ignores everything."""


def tagged(progress: Progress | None, stage: str) -> Progress:
    """Forward events to ``progress`` with ``stage`` filled in (a stage runner's view of a job's events)."""
    sink = progress or silent

    def forward(event: Event) -> None:
        sink(replace(event, stage=event.stage or stage))

    return forward
