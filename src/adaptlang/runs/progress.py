"""The one place where progress callbacks that are not yet :class:`adaptlang.events.Event` meet it.

- ``adapt_model`` reports through its own event type (same kinds and field names): :func:`adapt_progress`;
- ``train_parser``/``train_baseline`` are moving from training-loop callbacks (``on_start``/``on_step``/
  ``on_epoch``) to ``Callable[[Event], None]``: :func:`training_progress` serves both until the move is committed,
  then it becomes ``return progress``.
"""

from __future__ import annotations

from typing import Any, Callable

from adaptlang.events import Event, Progress


def adapt_progress(progress: Progress) -> Callable[[Any], None]:
    """What ``adapt_model`` takes as its progress argument, reporting to ``progress``."""

    def forward(e: Any) -> None:
        if isinstance(e, Event):
            progress(e)
        else:
            progress(Event(e.kind, message=e.message, step=e.step, total=e.total, loss=e.loss,
                           tokens_per_second=e.tokens_per_second))

    return forward


def training_progress(progress: Progress) -> Any:
    """What ``train_parser``/``train_baseline`` take as their progress argument, reporting to ``progress``."""
    return _Training(progress)


class _Training:
    """An Event callable that also answers the training loop's callbacks (steps counted over the whole run)."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.steps_per_epoch, self.n_epochs = 1, 1

    def __call__(self, event: Event) -> None:
        self.progress(event)

    def on_start(self, n_epochs: int, steps_per_epoch: int, start_epoch: int) -> None:
        self.n_epochs, self.steps_per_epoch = n_epochs, max(1, steps_per_epoch)
        self.progress(Event("start", step=start_epoch * self.steps_per_epoch, total=n_epochs * self.steps_per_epoch,
                            epochs=n_epochs, epoch=start_epoch + 1))

    def on_step(self, epoch: int, step: int, loss: float) -> None:
        self.progress(Event("step", step=(epoch - 1) * self.steps_per_epoch + step,
                            total=self.n_epochs * self.steps_per_epoch, epoch=epoch, loss=loss))

    def on_epoch(self, record: Any) -> None:
        self.progress(Event("epoch", epoch=record.epoch, epochs=self.n_epochs, loss=record.train_loss,
                            metrics=dict(record.dev), best=record.best, seconds=record.seconds))
