"""The trained reader as the bot runs it: an ONNX graph for onnxruntime, with its tokenizer.

`int8` quantizes the weights of every MatMul (dynamic quantization, 4× smaller); `fp32` keeps
the float weights, each large tensor in a file of its own beside the graph, so no file exceeds
the repository's 60 MB limit. Which one ships is measured, not assumed: docs/evaluation.md.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np

from index.quality.finetune import model_inputs
from index.reader import encode_pairs, tokenizer

FORMATS = {"int8": "model.int8.onnx", "fp32": "model.onnx"}


def export(torch_dir: Path, out_dir: Path, form: str = "int8") -> Path:
    """The trained model in `out_dir` as ONNX (`form`: int8 or fp32), with its tokenizer;
    returns the graph's path."""
    import onnx
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
    feed = model_inputs(
        model,
        encode_pairs(tok, "Who is the envoy?", ["His envoy, Steve Witkoff, will visit.", "Ok."]),
    )
    names = list(feed)
    traced = out_dir / "traced.onnx"
    # The TorchScript exporter is deprecated but exact for BERT; its warnings say so at length.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            tuple(feed.values()),
            str(traced),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
            opset_version=17,
            dynamo=False,
        )
    target = out_dir / FORMATS[form]
    if form == "int8":
        quantize_dynamic(str(traced), str(target), weight_type=QuantType.QInt8)
    else:
        from onnx.external_data_helper import convert_model_to_external_data

        graph = onnx.load(str(traced))
        # Each tensor over 1 MB in a file of its own (the largest, the word embeddings, is
        # 47 MB for MiniLM), named by number: tensor names make awkward file names.
        convert_model_to_external_data(graph, all_tensors_to_one_file=False, size_threshold=1 << 20)
        for n, tensor in enumerate(t for t in graph.graph.initializer if t.external_data):
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = f"{target.name}.data-{n:03d}"
        onnx.save_model(graph, str(target))
    for leftover in out_dir.glob("traced.onnx*"):
        leftover.unlink()
    shutil.copy(Path(torch_dir) / "tokenizer.json", out_dir / "tokenizer.json")
    return target


def torch_logits(torch_dir: Path, question: str, texts: list[str]) -> np.ndarray:
    """The unexported model's logits (to check an export against)."""
    import torch
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(torch_dir)
    model.eval()
    feed = model_inputs(model, encode_pairs(tokenizer(torch_dir), question, texts))
    with torch.no_grad():
        out = model(**feed).logits
    return np.asarray(out.view(-1).numpy(), dtype=np.float32)
