"""Fine-tuning a cross-encoder on (question, text) pairs: the loop the teacher and student share.

A run of several hours on the CPU must survive being stopped: every `checkpoint_every` steps the
model, optimizer, schedule and random state are saved (atomically, one checkpoint kept), and a
run with the same configuration resumes from the last one, with the result of an uninterrupted
run. Each epoch is one cycle — a fresh AdamW, warm-up then linear decay, its own seeded batch
order — and ends saved as out_dir/torch-epoch-N.

Two losses: `bce` learns the pairs' 0/1 labels (the teacher); `mse` learns the teacher's logits
(`Pair.target`), which is how the student is distilled. Matrix products run in bfloat16 where
the CPU has it (`bf16`; the weights and the loss stay float32): on this machine's AVX-512 cores
a step of mpnet takes 0.55 of the float32 time.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import random
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from index.quality.train_config import TrainConfig
from index.reader import encode_batch, tokenizer


@dataclass(frozen=True)
class Pair:
    """One training example: a question, a candidate's reader text, whether it answers, and
    (for distillation) the teacher's logit for it."""

    question: str
    text: str
    label: float
    target: float | None = None


def read_pairs(path: Path) -> list[Pair]:
    """Pairs saved by `write_pairs`."""
    return [Pair(**json.loads(line)) for line in Path(path).read_text("utf-8").splitlines()]


def write_pairs(pairs: list[Pair], path: Path) -> None:
    """Pairs as JSON lines, written whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(asdict(p)) + "\n" for p in pairs), encoding="utf-8")
    tmp.replace(path)


def batches(pairs: list[Pair], size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffled batches of similar length (sorted within chunks of 50 batches, then shuffled)."""
    order = pairs[:]
    rng.shuffle(order)
    chunk = size * 50
    out: list[list[Pair]] = []
    for start in range(0, len(order), chunk):
        part = sorted(order[start : start + chunk], key=lambda p: len(p.question) + len(p.text))
        out += [part[i : i + size] for i in range(0, len(part), size)]
    rng.shuffle(out)
    return out


def device() -> str:
    """Where training runs: a lent GPU when torch sees one, else the CPU."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def model_inputs(model: Any, feed: dict[str, np.ndarray]) -> dict[str, Any]:
    """The tokenizer's arrays as tensors on the model's device, only those the model takes
    (MPNet has no segment ids)."""
    import torch

    accepted = inspect.signature(model.forward).parameters
    on = next(model.parameters()).device
    return {k: torch.from_numpy(v).to(on) for k, v in feed.items() if k in accepted}


def finetune(
    pairs: list[Pair],
    model_path: str,
    out_dir: Path,
    config: TrainConfig,
    say: Callable[[str], None] = print,
) -> Path:
    """Fine-tune the model at `model_path` as a one-logit cross-encoder; save it in out_dir/torch.

    Resumes from out_dir's saved epochs and step checkpoint when they were made by the same
    configuration.
    """
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    first = random.Random(config.seed)
    if config.max_pairs is not None:
        pairs = first.sample(pairs, min(config.max_pairs, len(pairs)))
    out_dir = Path(out_dir)
    epochs = max(1, math.ceil(config.epochs))
    done = 0
    for epoch in range(epochs, 0, -1):
        saved = out_dir / f"torch-epoch-{epoch}"
        if (saved / "run.json").exists() and json.loads((saved / "run.json").read_text()) == _run(
            config, epoch
        ):
            done = epoch
            break
    source = str(out_dir / f"torch-epoch-{done}") if done else model_path
    model = AutoModelForSequenceClassification.from_pretrained(source, num_labels=1)
    model.to(device())
    if done:
        say(f"    resuming after epoch {done} (saved in {source})")
    tok = tokenizer(Path(model_path))
    for epoch in range(done + 1, epochs + 1):
        if epoch > 1:
            torch.manual_seed(config.seed + epoch)
        rng = first if epoch == 1 else random.Random(f"{config.seed}-{epoch}")
        plan = batches(pairs, config.batch_size, rng)
        if epoch == epochs and config.epochs != epochs:  # a fractional last epoch
            plan = plan[: max(1, int(len(plan) * (config.epochs - epochs + 1)))]
        if config.max_steps is not None:
            plan = plan[: config.max_steps]
        _epoch(model, tok, plan, config, epoch, out_dir / "checkpoint", say)
        saved = out_dir / f"torch-epoch-{epoch}"
        model.save_pretrained(saved)
        (saved / "run.json").write_text(json.dumps(_run(config, epoch)))
    target = out_dir / "torch"
    model.save_pretrained(target)
    shutil.copy(Path(model_path) / "tokenizer.json", target / "tokenizer.json")
    return target


def _run(config: TrainConfig, epoch: int) -> dict[str, Any]:
    """What identifies a saved epoch: the configuration, less the number of epochs (which does
    not change any epoch before the last) and how often it checkpoints, and the epoch."""
    ignored = ("epochs", "checkpoint_every")
    return {k: v for k, v in asdict(config).items() if k not in ignored} | {"epoch": epoch}


def _epoch(
    model: Any,
    tok: Any,
    plan: list[list[Pair]],
    config: TrainConfig,
    epoch: int,
    checkpoint: Path,
    say: Callable[[str], None],
) -> None:
    """One cycle over `plan`: AdamW, linear warm-up and decay; resumable from `checkpoint`."""
    import torch

    model.train()
    steps = len(plan)
    decay = [p for n, p in model.named_parameters() if "LayerNorm" not in n and "bias" not in n]
    rest = [p for n, p in model.named_parameters() if "LayerNorm" in n or "bias" in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": rest, "weight_decay": 0},
        ],
        lr=config.learning_rate,
    )
    warm = max(1, int(steps * config.warmup))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    run = _run(config, epoch) | {"steps": steps}
    start, running = _resume(checkpoint, run, model, optimizer, scheduler)
    if start:
        say(f"    epoch {epoch}: resuming at step {start + 1} of {steps} (checkpoint)")
    bce = torch.nn.BCEWithLogitsLoss()
    on = next(model.parameters()).device
    started = time.perf_counter()
    for step in range(start + 1, steps + 1):
        batch = plan[step - 1]
        feed = model_inputs(model, encode_batch(tok, [(p.question, p.text) for p in batch]))
        with torch.autocast(on.type, dtype=torch.bfloat16, enabled=config.bf16):
            logits = model(**feed).logits.view(-1)
        logits = logits.float()
        if config.loss == "mse":
            targets = torch.tensor([p.target for p in batch], dtype=torch.float32, device=on)
            loss = torch.nn.functional.mse_loss(logits, targets)
        else:
            labels = torch.tensor([p.label for p in batch], dtype=torch.float32, device=on)
            loss = bce(logits, labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        value = loss.item()
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % config.checkpoint_every == 0 and step < steps:
            _save(checkpoint, run, step, running, model, optimizer, scheduler)
        if step % 50 == 0 or step == steps:
            elapsed = time.perf_counter() - started
            eta = elapsed / (step - start) * (steps - step)
            say(
                f"epoch {epoch} step {step}/{steps}  loss {running:.4f}  "
                f"{elapsed / 60:.1f} min, {eta / 60:.1f} min left"
            )
    if checkpoint.exists():
        shutil.rmtree(checkpoint)


def _save(
    folder: Path,
    run: dict[str, Any],
    step: int,
    running: float,
    model: Any,
    optimizer: Any,
    scheduler: Any,
) -> None:
    """Everything a resumed run needs, replacing the previous checkpoint only once written."""
    import torch

    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(folder.name + ".tmp")
    tmp.mkdir(exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
        "step": step,
        "running": running,
    }
    torch.save(state, tmp / "state.pt")
    (tmp / "run.json").write_text(json.dumps(run))
    old = folder.with_name(folder.name + ".old")
    if folder.exists():
        os.replace(folder, old)
    os.replace(tmp, folder)
    if old.exists():
        shutil.rmtree(old)


def _resume(
    folder: Path, run: dict[str, Any], model: Any, optimizer: Any, scheduler: Any
) -> tuple[int, float]:
    """The step to go on after and the running loss, from a checkpoint of this same run."""
    import torch

    if not folder.exists() and folder.with_name(folder.name + ".old").exists():
        folder = folder.with_name(folder.name + ".old")  # stopped between the two renames
    if not (folder / "run.json").exists() or json.loads((folder / "run.json").read_text()) != run:
        return 0, 0.0
    state = torch.load(folder / "state.pt", weights_only=False, map_location="cpu")
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])  # moves its tensors to the parameters' device
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    return int(state["step"]), float(state["running"])
