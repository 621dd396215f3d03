"""Export a trained generator as a folder anyone can load, and load it back.

The folder holds:
- `generator.pt2`: a `torch.export` program with a dynamic batch dimension. Load it with
  `torch.export.load(path).module()` and no project code; input N(0, 1) noise of shape
  [batch, latent_len, latent_channels] (see model.json), output [batch, leads, samples] in [-1, 1].
- `model.json`: format version, latent shape and distribution, leads, fs, window, R-peak index, the
  scale to millivolts, the full config, metrics, dataset fingerprint, seed, versions, and the
  sha256 of the two other files (a changed file is refused on load).
- `checkpoint.pt`: plain state dicts of G and D plus the config; loads with `weights_only=True`.

The folder is written to a temporary sibling and renamed into place, so there is never half an export.

What is safe to load from a stranger: `load_generator` and every command of this project rebuild the
generator from `checkpoint.pt` with `torch.load(..., weights_only=True)` after checking model.json
and both files' sha256: nothing in the folder is unpickled or run. `generator.pt2` is for torch-only
use and is never opened here: `torch.export.load` unpickles whatever an archive stores with pickle
(with weights_only=False), so load a .pt2 only from a source you trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .config import GanConfig
from .models import Discriminator, Generator, build

EXPORT_FORMAT = 1
FILES = ("generator.pt2", "model.json", "checkpoint.pt")
MODEL_KEYS = ("latent", "leads", "fs", "window", "r_index", "scale_mv", "config", "dataset")


class ExportError(RuntimeError):
    """An export folder is incomplete, tampered with, or of another format; the message names the file."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_program(G: Generator) -> torch.export.ExportedProgram:
    """`torch.export` of the generator (on CPU, eval mode) with a dynamic batch dimension."""
    G = G.to("cpu").eval()
    z = torch.zeros(2, *G.latent_shape)
    with warnings.catch_warnings():
        # LSTM flattens its weights during tracing; torch warns about that, harmlessly.
        warnings.filterwarnings("ignore", message=".*were assigned during export.*")
        return torch.export.export(G, (z,), dynamic_shapes={"z": {0: torch.export.Dim("batch", min=1, max=1 << 20)}})


def export(out_dir: str | os.PathLike, G: Generator, D: Discriminator | None, cfg: GanConfig, *,
           dataset: dict, metrics: dict | None = None, seed: int | None = None, extra: dict | None = None) -> Path:
    """Write an export folder at `out_dir` (replacing an existing one only once the new one is complete).

    `dataset` describes the training data: {'key', 'fs', 'scale_mv', 'config': {'leads', 'r_index', ...}}
    (a WindowDataset's meta); a missing field is a KeyError. Returns the folder.
    """
    from . import __version__

    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        torch.export.save(export_program(G), tmp / "generator.pt2")
        ckpt = {"format": EXPORT_FORMAT, "config": cfg.to_dict(),
                "generator": {k: v.cpu() for k, v in G.state_dict().items()}}
        if D is not None:
            ckpt["discriminator"] = {k: v.cpu() for k, v in D.state_dict().items()}
        torch.save(ckpt, tmp / "checkpoint.pt")
        dcfg = dataset["config"]  # required, like every field read below: no silent defaults
        model = {
            "format": EXPORT_FORMAT,
            "what": "ecg-search LSTM-GAN generator of ECG beats",
            "latent": {"shape": [cfg.latent_len, cfg.latent_channels], "distribution": "standard normal N(0, 1)",
                       "input": "float32 [batch, latent_len, latent_channels]"},
            "output": "float32 [batch, leads, samples] in [-1, 1]; multiply by scale_mv for millivolts",
            "leads": list(dcfg["leads"]),
            "condition": None,  # the labels a conditional generator takes; none so far (unconditional)
            "fs": dataset["fs"],
            "window": cfg.window,
            "r_index": dcfg["r_index"],
            "scale_mv": float(dataset["scale_mv"]),
            "config": cfg.to_dict(),
            "dataset": {"key": dataset["key"], "config": dcfg, "source": "LUDB v1.0.1 (ODC-By 1.0)"},
            "metrics": metrics or {},
            "seed": cfg.seed if seed is None else seed,
            "versions": {"ecg_search": __version__, "torch": torch.__version__, "numpy": np.__version__,
                         "python": platform.python_version()},
            "files": {name: _sha256(tmp / name) for name in ("generator.pt2", "checkpoint.pt")},
        } | (extra or {})
        (tmp / "model.json").write_text(json.dumps(model, indent=1))
        if out.exists():
            _replace_dir(tmp, out)  # tmp now holds the old export, removed below
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def _replace_dir(new: Path, target: Path) -> None:
    """Put folder `new` at `target` (which exists) in one step where the OS allows it: Linux swaps the
    two with renameat2(RENAME_EXCHANGE), so there is never a moment without an export at `target`;
    `new` then names the old folder. Elsewhere: two renames (a crash between them leaves the old
    export at `.<name>.old-<pid>`)."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if hasattr(libc, "renameat2"):
            AT_FDCWD, RENAME_EXCHANGE = -100, 2
            if libc.renameat2(AT_FDCWD, os.fsencode(new), AT_FDCWD, os.fsencode(target), RENAME_EXCHANGE) == 0:
                return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    target.rename(old)
    new.rename(target)
    old.rename(new)


def read_model_json(folder: str | os.PathLike) -> dict:
    """model.json of an export folder, after checking every file is there, unchanged, and current."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"export folder {folder} does not exist")
    for name in FILES:
        if not (folder / name).is_file():
            raise ExportError(f"{folder / name} is missing: not a complete export (expected {', '.join(FILES)})")
    try:
        model = json.loads((folder / "model.json").read_text())
    except json.JSONDecodeError as exc:
        raise ExportError(f"{folder / 'model.json'} is not valid JSON: {exc}") from exc
    if not isinstance(model, dict):
        raise ExportError(f"{folder / 'model.json'} is not a JSON object: not an export's model.json")
    if model.get("format") != EXPORT_FORMAT:
        raise ExportError(f"{folder / 'model.json'} has export format {model.get('format')}; this version reads "
                          f"format {EXPORT_FORMAT}")
    files = model.get("files")
    if not isinstance(files, dict) or set(files) != {"generator.pt2", "checkpoint.pt"} or \
            not all(isinstance(v, str) and len(v) == 64 for v in files.values()):
        raise ExportError(f"{folder / 'model.json'}: 'files' must give the sha256 of generator.pt2 and checkpoint.pt; "
                          "without them the files cannot be checked, so the export is refused (re-export it)")
    for name, digest in files.items():
        if _sha256(folder / name) != digest:
            raise ExportError(f"{folder / name} does not match the sha256 in model.json: modified or corrupted")
    missing = [k for k in MODEL_KEYS if k not in model]
    if missing or not isinstance(model.get("latent"), dict) or "shape" not in model["latent"]:
        raise ExportError(f"{folder / 'model.json'} lacks {', '.join(missing) or 'latent.shape'}: not a complete export "
                          "(re-export it)")
    return model


def load_export_networks(folder: str | os.PathLike) -> tuple[GanConfig, Generator, Discriminator | None]:
    """Rebuild G (and D when saved) from an export's checkpoint.pt, loaded with weights_only=True."""
    folder = Path(folder)
    read_model_json(folder)
    try:
        ckpt = torch.load(folder / "checkpoint.pt", map_location="cpu", weights_only=True)
        cfg = GanConfig.from_dict(ckpt["config"])
        G, D = build(cfg)
        G.load_state_dict(ckpt["generator"])
    except Exception as exc:
        raise ExportError(f"{folder / 'checkpoint.pt'} could not be loaded as this project's plain weights: {exc}") from exc
    if "discriminator" in ckpt:
        D.load_state_dict(ckpt["discriminator"])
        return cfg, G.eval(), D.eval()
    return cfg, G.eval(), None


@dataclass
class LoadedGenerator:
    """An exported generator: `sample(n, seed)` -> numpy float64 [n, leads, samples] in mV. `condition`
    (labels per beat) is for conditional generators; model.json's `condition` says which it takes
    (None: unconditional, as every generator so far)."""

    module: torch.nn.Module
    info: dict

    @property
    def scale_mv(self) -> float:
        return float(self.info["scale_mv"])

    def sample_scaled(self, n: int, seed: int = 0, batch: int = 1024, condition: np.ndarray | None = None) -> np.ndarray:
        """Beats in the model's own units, [-1, 1]."""
        if condition is not None and self.info.get("condition") is None:
            raise ValueError("this generator is unconditional: it takes no condition (model.json's 'condition' is null)")
        g = torch.Generator().manual_seed(seed)
        z = torch.randn(n, *self.info["latent"]["shape"], generator=g)
        with torch.no_grad():
            return torch.cat([self.module(z[i:i + batch]) for i in range(0, n, batch)]).numpy()

    def sample(self, n: int, seed: int = 0, condition: np.ndarray | None = None) -> np.ndarray:
        return self.sample_scaled(n, seed, condition=condition).astype(np.float64) * self.scale_mv


def load_generator(folder: str | os.PathLike) -> LoadedGenerator:
    """An export folder's generator, ready to sample, after checking every file. Rebuilt from
    checkpoint.pt loaded with weights_only=True: nothing in the folder is unpickled or run, so a
    folder from a stranger is safe to load this way (generator.pt2 is never opened here)."""
    folder = Path(folder)
    info = read_model_json(folder)
    cfg, G, _ = load_export_networks(folder)
    if list(info["latent"]["shape"]) != [cfg.latent_len, cfg.latent_channels]:
        raise ExportError(f"{folder / 'model.json'}: latent shape {info['latent']['shape']} does not match the "
                          f"checkpoint's config ({cfg.latent_len}, {cfg.latent_channels}): the files do not belong together")
    return LoadedGenerator(G, info)
