"""Distillation: the teacher's logit for every pair the student will learn from.

The teacher (mpnet, index/quality/train_config.py's TEACHER) reads too slowly for the answer
path; the student (the packaged MiniLM) learns to give the teacher's logits. Scoring is the
costly part on a CPU (a forward pass of a 110M-parameter model per pair), so it goes in length
order, in chunks, each appended to `out` as it is done: a stopped run resumes where it was.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from index.quality.finetune import Pair, device, model_inputs
from index.reader import encode_batch, tokenizer

CHUNK = 512


def teacher_scores(
    pairs: list[Pair],
    teacher_dir: Path,
    out: Path,
    batch_size: int = 32,
    bf16: bool = True,
    say: Callable[[str], None] = print,
) -> list[Pair]:
    """`pairs` with `target` set to the teacher's logit; scores already in `out` are kept (the
    file records which pairs they belong to, so a changed pair list starts afresh)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    key = [f"{p.question}\x00{p.text}" for p in pairs]
    done: dict[int, float] = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["i"] < len(key) and row["key"] == key[row["i"]][:64]:
                done[row["i"]] = row["logit"]
    model = AutoModelForSequenceClassification.from_pretrained(teacher_dir)
    model.to(device())
    model.eval()
    on = next(model.parameters()).device
    tok = tokenizer(teacher_dir)
    order = sorted(range(len(pairs)), key=lambda i: len(key[i]))
    todo = [i for i in order if i not in done]
    if done:
        say(f"    {len(done)} of {len(pairs)} pairs already scored (resuming)")
    started = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "a", encoding="utf-8") as f, torch.inference_mode():
        for first in range(0, len(todo), CHUNK):
            chunk = todo[first : first + CHUNK]
            lines = []
            for b in range(0, len(chunk), batch_size):
                ids = chunk[b : b + batch_size]
                feed = encode_batch(tok, [(pairs[i].question, pairs[i].text) for i in ids])
                with torch.autocast(on.type, dtype=torch.bfloat16, enabled=bf16):
                    logits = model(**model_inputs(model, feed)).logits.float().view(-1)
                for i, value in zip(ids, logits.tolist(), strict=True):
                    done[i] = round(value, 4)
                    lines.append(json.dumps({"i": i, "key": key[i][:64], "logit": done[i]}))
            f.write("\n".join(lines) + "\n")
            f.flush()
            finished = first + len(chunk)
            elapsed = time.perf_counter() - started
            left = elapsed / finished * (len(todo) - finished)
            say(
                f"    scored {finished}/{len(todo)} pairs, {elapsed / 60:.1f} min, "
                f"{left / 60:.1f} min left"
            )
    return [replace(p, target=done[i]) for i, p in enumerate(pairs)]
