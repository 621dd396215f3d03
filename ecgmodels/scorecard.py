"""An evaluation as people read it: the test-split tables (current and legacy metrics, P/QRS/T
features) in markdown, model.json's `verdict`, the section of a run's leaderboard.md that holds
them, and opening an export to score it."""
from __future__ import annotations

import sys
from pathlib import Path

from .atomic import write_text
from .metrics import Kernel, fit_kernel
from .registry import LEGACY, POPULATION, REGISTRY

# Columns of the test table: (key, header). Higher-better and close-to-1 metrics say so.
COLUMNS = [(m, REGISTRY[m].label) for m in POPULATION]
LEGACY_COLUMNS = [(m, REGISTRY[m].label) for m in LEGACY if m != "prd_random"]  # prd_seed is prd_random / 10
BEGIN, END = "<!-- evaluation: begin -->", "<!-- evaluation: end -->"


def _cell(ev: dict, key: str) -> str:
    if key not in ev:
        return ""
    ci = ev.get("ci", {}).get(key)
    return f"{ev[key]:.3g} [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else f"{ev[key]:.3g}"


def table(rows: list[tuple[str, dict]], columns=COLUMNS) -> str:
    """Markdown table, one row per (label, evaluate() result), value [95 % interval] when present."""
    lines = ["| beats | " + " | ".join(h for _, h in columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {label} | " + " | ".join(_cell(ev, k) for k, _ in columns) + " |" for label, ev in rows]
    return "\n".join(lines)


def rows_of(rep: dict, label: str, extra: list[tuple[str, dict]] = ()) -> list[tuple[str, dict]]:
    """Table rows of a `metrics.report` result: the generator, any extra rows (e.g. the seed variant),
    the floor and the average beat."""
    return [(label, rep["generated"]), *extra, ("real-vs-real floor (training beats)", rep["floor"]),
            ("average training beat + N(0, 0.01²)", rep["average"])]


def features_markdown(rep: dict, label: str, extra: list[tuple[str, dict]] = ()) -> str:
    """The P/QRS/T section of a report with features (metrics.report with `scale_mv`): plausibility
    checks, then one row per feature: the held-out real beats' median ± sd (delineated, and from
    LUDB's annotations), and each set's Wasserstein-1 distance to them. `extra`: (label,
    fidelity rows) of other generators (e.g. the seed variant's features['generated'])."""
    from .fiducial import FEATURES
    from .fiducial import fmt as _fmt

    feat, pl = rep["features"], rep["plausibility"]
    sets = [(label, feat["generated"]), *extra, ("real-vs-real floor", feat["floor"]), ("average beat", feat["average"])]
    checks = "; ".join(f"{c['check']} {c['value']:.0%} (real {c['real']:.0%}) {'ok' if c['ok'] else '**FAILS**'}"
                       for c in pl["checks"])
    lines = [f"**Plausible ECG: {'yes' if pl['plausible'] else 'NO'}** ({checks}).", "",
             "P/QRS/T features (neurokit2's DWT delineator on every set alike; W1 = Wasserstein-1 distance to the "
             "held-out real beats' distribution, lower is better; for P wave, the difference in share). Standing: "
             "the generator's W1 within 2x the floor's = close, 4x = near, beyond = far.", "",
             "| feature | unit | real (delineated) | real (annotated) | " + " | ".join(f"W1 {lbl}" for lbl, _ in sets)
             + " | standing |", "|---|---|---:|---:|" + "---:|" * len(sets) + "---|"]

    def spread(row: dict, unit: str) -> str:
        if "median" not in row:
            return _fmt(row["rate"], "share")
        return "-" if row["median"] is None else f"{_fmt(row['median'], unit)} ± {_fmt(row['sd'], unit)}"

    for name, (unit, _) in FEATURES.items():
        ann = spread(feat["annotated"][name], unit) if "annotated" in feat else "-"
        w1 = " | ".join(_fmt(rows[name]["w1"], unit) for _, rows in sets)
        lines.append(f"| {name} | {unit} | {spread(feat['real'][name], unit)} | {ann} | {w1} | {feat['standing'][name]} |")
    return "\n".join(lines)


def markdown(rep: dict, label: str, extra: list[tuple[str, dict]] = (), legacy_extra: list[tuple[str, dict]] = (),
             extra_features: list[tuple[str, dict]] = ()) -> str:
    """The test section: verdict, main table, P/QRS/T table (when the report has features), legacy
    table, how to read it."""
    g = rep["generated"]
    k = rep["kernel"]
    rows = rows_of(rep, label, extra)
    return "\n".join([
        f"**Verdict: {rep['verdict']['summary']}.**", "",
        f"Test split: {g['n_gen']} generated beats (noise seed {rep['noise_seed']}, never seen by selection) against "
        f"{g['n_real']} real beats of {g['records']} records. Value [95 % interval over a bootstrap of test records]. "
        f"MMD² kernel: mean of RBFs of bandwidth {', '.join(f'{b:.3g}' for b in k['bandwidths'])} "
        f"({' and '.join(f'{s:g}' for s in k['scales'])} x the median training distance). "
        "↑: higher is better; diversity is best at 1; the rest lower is better.", "",
        table(rows), "",
        f"Copy check: median distance of generated beats to their nearest training beat over that of held-out "
        f"real beats = {rep['copy_ratio']:.2f} (well below 1 would mean copying).", "",
        *([features_markdown(rep, label, extra_features), ""] if "features" in rep else []),
        "The seed's own definitions (random pairing; labelled legacy: they reward average-looking beats):", "",
        table([(lbl, ev) for lbl, ev in rows if any(m in ev for m in LEGACY)] + list(legacy_extra), LEGACY_COLUMNS),
    ])


class ExportUnusable(RuntimeError):
    """An export (or the data it needs) cannot be scored; `code` is the CLI's exit status."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def open_export(folder: Path, data_dir: str | None):
    """What scoring an export needs: (model.json, GanConfig, G, the window dataset it was trained
    on, the MMD kernel it was scored with). Raises ExportUnusable (exit 2: the export; 4: the data)
    with a one-line reason. Loads plain weights only (weights_only): nothing in the folder runs."""
    from .data import require_datasets
    from .export import ExportError, load_export_networks, read_model_json

    datasets = require_datasets()
    try:
        info = read_model_json(folder)
        cfg, G, _ = load_export_networks(folder)
        data_cfg = datasets.DatasetConfig.from_dict(info["dataset"]["config"])
    except ExportError as exc:
        raise ExportUnusable(str(exc), 2) from exc
    except (KeyError, TypeError, ValueError) as exc:
        raise ExportUnusable(f"{folder / 'model.json'}: its dataset settings are missing or invalid ({exc}); "
                             "re-export the generator", 2) from exc
    try:
        ds, _ = datasets.load_or_build(data_dir, data_cfg)
    except (datasets.LudbError, datasets.CacheError) as exc:
        raise ExportUnusable(str(exc), datasets.EXIT_DATA) from exc
    if ds.key != info["dataset"]["key"]:
        print(f"note: the window dataset's key {ds.key[:12]} differs from the one this generator was trained on "
              f"({info['dataset']['key'][:12]}): the cutting code or the raw files changed since, so check that the "
              "test records are still ones it never saw (the split is recorded in both caches' meta.json)",
              file=sys.stderr)
    # The kernel the export was scored with (so the figures compare with its run's); exports made
    # before the fixed kernel have none, and get the one fitted on these training beats.
    kernel = Kernel.from_dict(info["kernel"]) if "kernel" in info else fit_kernel(ds.part("train"))
    return info, cfg, G, ds, kernel


def recorded_validation_flag(info: dict) -> bool | None:
    """Whether an export's validation MMD^2 beat the average beat's, as its model.json records it;
    None where nothing was recorded (exports of the train CLI, runs from before the baselines)."""
    verdict = info["verdict"] if isinstance(info.get("verdict"), dict) else {}
    return verdict["validation_beats_average_beat"] if "validation_beats_average_beat" in verdict else None


def verdict_of(rep: dict, usable_on_validation: bool | None) -> dict:
    """model.json's `verdict`: the test split's (metrics.verdict), whether the trial's validation MMD^2
    beat the average beat's (the rule it was chosen by; None when its run recorded no baseline), and
    `usable`: below the average beat on both splits, and not flagged as implausible ECG."""
    v = rep["verdict"]
    return v | {"validation_beats_average_beat": usable_on_validation,
                "usable": bool(v["beats_average_beat"] and usable_on_validation is not False
                               and v.get("plausible") is not False)}


def write_into_leaderboard(path: Path, section: str) -> None:
    """Replace the marked evaluation section of a leaderboard.md, or insert it after the header block."""
    text = path.read_text()
    block = f"{BEGIN}\n{section}\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        head, sep, rest = text.partition("\n## ")
        text = head.rstrip("\n") + "\n\n" + block + "\n" + (sep + rest if sep else "")
    write_text(path, text)
