"""The query encoder without torch: the embedder's model exported once to ONNX, run by onnxruntime.

`export_onnx` traces the sentence-transformers model (BERT + mean pooling + L2 normalisation) into
one ONNX graph, checks it against torch on probe sentences, and saves it with the tokenizer in a
cache folder keyed by the model's files. `OnnxEncoder` loads that folder with onnxruntime and
tokenizers only, so answering a question never imports torch (seconds and hundreds of MB).
Deliberate simplification: only BERT-style models with mean pooling (all-MiniLM-L6-v2) are exported.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.embedder import model_name

EXPORT_VERSION = 2
MIN_COSINE = 0.999
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBES = (
    "Who is Steve Witkoff?",
    "The meeting was downgraded after the Secretary of State canceled his participation.",
    "ok",
)


def export_dir(model_path: str, cache_dir: Path) -> Path:
    """The cache folder for `model_path`'s export: named for the model and a hash of its files."""
    digest = hashlib.sha256(f"v{EXPORT_VERSION}".encode())
    folder = Path(model_path)
    for name in ("config.json", "tokenizer.json", "modules.json", "sentence_bert_config.json"):
        path = folder / name
        digest.update(name.encode() + (path.read_bytes() if path.exists() else b""))
    for weights in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    return Path(cache_dir) / f"{model_name(model_path)}-{digest.hexdigest()[:12]}"


def _max_length(model_path: str) -> int:
    config = Path(model_path) / "sentence_bert_config.json"
    if config.exists():
        return int(json.loads(config.read_text()).get("max_seq_length", 256))
    return 256


def export_onnx(model_path: str, cache_dir: Path) -> Path:
    """Export the model once (a no-op when the cache already holds it); returns the folder.

    Workers started together on a fresh host would each spend seconds of CPU on the same
    export, so the first takes a lock on the cache folder and the others wait, then reuse it.
    """
    target = export_dir(model_path, cache_dir)
    if (target / "meta.json").exists():
        return target
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(cache_dir) / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "meta.json").exists():
            _export(model_path, target)
    return target


def _export(model_path: str, target: Path) -> None:
    """Trace, check and save the export into `target` (renamed into place when complete)."""
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    class Pooled(torch.nn.Module):
        """BERT, then mean pooling over real tokens, then L2 normalisation (as the ST model)."""

        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(out.dtype)
            mean = (out * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1), out

    # Eager attention: the SDPA path traces the padding mask away when the example has none.
    model = Pooled(AutoModel.from_pretrained(model_path, attn_implementation="eager")).eval()
    tmp = target.parent / f".tmp-{target.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    shutil.copy(Path(model_path) / "tokenizer.json", tmp / "tokenizer.json")
    tokenizer = _tokenizer(tmp / "tokenizer.json", _max_length(model_path))
    feeds = _feeds(tokenizer, list(PROBES))
    inputs = tuple(torch.from_numpy(feeds[k]) for k in _INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer chatter about Python bools in HF code
        torch.onnx.export(
            model,
            inputs,
            str(tmp / "model.onnx"),
            dynamo=False,
            input_names=list(_INPUTS),
            output_names=["embedding", "token_embeddings"],
            dynamic_axes={
                **axes,
                "embedding": {0: "batch"},
                "token_embeddings": {0: "batch", 1: "tokens"},
            },
            opset_version=17,
        )
        expected = model(*inputs)[0].numpy()
    _weights_beside(tmp / "model.onnx")
    meta = {
        "version": EXPORT_VERSION,
        "name": model_name(model_path),
        "dim": int(expected.shape[1]),
        "max_length": _max_length(model_path),
    }
    (tmp / "meta.json").write_text(json.dumps(meta))
    got = OnnxEncoder(tmp).encode(list(PROBES))
    worst = float((got * expected).sum(axis=1).min())
    if worst < MIN_COSINE:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"the ONNX export disagrees with torch (cosine {worst:.5f})")
    try:
        tmp.rename(target)
    except OSError:  # another process finished the same export first
        shutil.rmtree(tmp, ignore_errors=True)


def _weights_beside(path: Path) -> None:
    """Move the weights out of the graph file: onnxruntime then maps them instead of copying
    them out of a parsed protobuf, which saves ~70 MB of resident memory per process."""
    import onnx

    model = onnx.load(str(path))
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=f"{path.name}.data",
        size_threshold=1024,
    )


def _tokenizer(path: Path, max_length: int) -> Any:
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding()
    return tokenizer


def _feeds(tokenizer: Any, texts: list[str]) -> dict[str, np.ndarray]:
    encoded = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in encoded], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


class OnnxEncoder:
    """The `Encoder` protocol over an exported folder: onnxruntime + tokenizers, no torch."""

    def __init__(self, folder: Path, batch_size: int = 32, threads: int = 0) -> None:
        import onnxruntime as ort

        meta = json.loads((Path(folder) / "meta.json").read_text())
        self._folder = Path(folder)
        self.name: str = meta["name"]
        self.dim: int = int(meta["dim"])
        self.batch_size = batch_size
        self._tokenizer = _tokenizer(Path(folder) / "tokenizer.json", int(meta["max_length"]))
        self._vocabulary = _Vocabulary(self._tokenizer)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # Spinning worker threads steal the CPU from concurrent requests on a small machine.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(Path(folder) / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Normalised embeddings, one row per text, float32."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Sorting by length keeps padding (wasted work) small within each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            feeds = _feeds(self._tokenizer, [texts[i] for i in rows])
            out[rows] = self._session.run(["embedding"], feeds)[0]
        return out

    def encode_tokens(
        self, texts: Sequence[str], keep: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
        """Sentence vectors plus, per text, its kept word pieces and their unit vectors.

        The same outputs as sentence-transformers' `output_value=None` (`input_ids` and
        `token_embeddings` of attended positions) from one forward pass; `keep[id]` says which
        word pieces to return.
        """
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        tokens: list[tuple[np.ndarray, np.ndarray]] = []
        for start in range(0, len(texts), self.batch_size):
            feeds = _feeds(self._tokenizer, list(texts[start : start + self.batch_size]))
            pooled, hidden = self._session.run(None, feeds)
            vectors[start : start + len(pooled)] = pooled
            for row, attended in enumerate(feeds["attention_mask"].astype(bool)):
                ids = feeds["input_ids"][row][attended]
                vecs = hidden[row][attended][keep[ids]]
                vecs = vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-9)
                tokens.append((ids[keep[ids]].astype(np.int32), vecs.astype(np.float32)))
        return vectors, tokens

    @property
    def tokenizer(self) -> _Vocabulary:
        """The word-piece vocabulary, with the two methods of a transformers tokenizer."""
        return self._vocabulary


class _Vocabulary:
    """`convert_ids_to_tokens` and `vocab_size` over a `tokenizers.Tokenizer`."""

    def __init__(self, tokenizer: Any) -> None:
        self._tokenizer = tokenizer
        self.vocab_size: int = tokenizer.get_vocab_size()

    def convert_ids_to_tokens(self, ids: list[int]) -> list[str]:
        """Word piece of each id."""
        return [self._tokenizer.id_to_token(i) or "" for i in ids]
