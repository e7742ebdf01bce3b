"""What ``adapt`` and ``pretrain`` print: progress events as a bar, and the result's figures."""

from __future__ import annotations

from typing import Any


class ProgressReporter:
    """Renders library progress events: phase messages, and a bar with loss, tokens/s and ETA while training."""

    def __init__(self, console: Any, quiet: bool):
        self.console = console
        self.quiet = quiet
        self.progress: Any = None
        self.task: Any = None

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        if event.kind == "phase":
            self.console.print(f"[dim]adapt:[/dim] {event.message}")
        elif event.kind == "start":
            from rich.progress import (
                BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("training"), BarColumn(), MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=self.console, transient=False,
            )
            self.progress.start()
            self.task = self.progress.add_task("train", total=event.total, completed=event.step, loss="-", tps="-")
        elif event.kind == "step" and self.progress is not None:
            self.progress.update(self.task, completed=event.step, loss=f"{event.loss:.3f}",
                                 tps=f"{event.tokens_per_second:,.0f}")
        elif event.kind == "done":
            self.close()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def render(console: Any, r: Any) -> None:
    h = r.heldout
    console.print(f"[bold]adapted[/bold] {r.base_model} -> {r.output}  (method {r.method}"
                  f"{', merged' if r.merged else ''}; head: {r.head}; translit: {r.translit or 'none'})")
    console.print(f"  data: {r.data['train_lines']} training lines ({r.data['train_tokens']} tokens, "
                  f"{r.data['train_sequences']} sequences of {r.data['tokens_per_sequence']}); held out "
                  f"{h['lines']} lines ({h['selection']})")
    console.print(f"  held-out MLM loss {h['mlm_loss_before']:.4f} -> {h['mlm_loss_after']:.4f}; "
                  f"pseudo-perplexity {h['pseudo_perplexity_before']} -> {h['pseudo_perplexity_after']} "
                  f"({h['pppl_positions']} positions)")
    curve = ", ".join(f"{p['mlm_loss']:.3f}" for p in r.heldout_curve[-6:])
    console.print(f"  stopped: {r.data['stop_reason']} after {r.data['epochs']} passes; best at step "
                  f"{r.data.get('best_step')}; held-out loss per evaluation (last 6): {curve or '-'}")
    if r.head_warmup:
        w = r.head_warmup
        console.print(f"  head warm-up: {w['steps']} steps, {w['minutes']} min, held-out loss {w['mlm_loss']} "
                      f"({w['stop_reason']})")
    if r.vocab:
        b, a = r.vocab["before"], r.vocab["after"]
        console.print(f"  vocabulary: +{r.vocab['added']} pieces; fertility {b['fertility']} -> {a['fertility']}, "
                      f"UNK rate {b['unk_rate']:.4%} -> {a['unk_rate']:.4%} (held-out slice)")
    console.print(f"  {r.steps} steps, {r.tokens_trained:,} tokens, {r.tokens_per_second:,.0f} tokens/s "
                  f"({r.step_tokens_per_second:,.0f} in the training steps), peak memory "
                  f"{r.peak_memory_mb:,.0f} MB, {r.trainable_parameters:,} of {r.total_parameters:,} parameters "
                  f"trained on {r.device}" + (f" x{r.n_processes}" if r.n_processes > 1 else ""))
