"""`python -m ecgmodels.report --model DIR`: one page that says whether an exported generator is usable.

Writes `report.html` (self-contained: the figure is embedded) and `report.png` into the export
folder: generated beats beside random held-out real ones, median beats with P, QRS and T marked, the
P/QRS/T feature histograms real vs generated, every metric beside the real-vs-real floor and the
average-beat baseline, and a one-line verdict per feature. `search.tune` writes it into `best/`.
"""
from __future__ import annotations

import argparse
import base64
import html
import sys
import textwrap
from pathlib import Path

import numpy as np

from . import fiducial as F
from .atomic import replace_file, write_text
from .metrics import TEST_N, too_few_beats

# Population metrics shown, with how to read them: (key, label, direction)
METRICS = [("mmd", "MMD² (fixed kernel)", "lower"), ("precision", "precision", "higher"),
           ("recall", "recall", "higher"), ("coverage", "coverage", "higher"), ("density", "density", "higher"),
           ("diversity", "diversity (1 = as varied as real)", "1"), ("prd", "PRD % to nearest real", "lower")]
NAMES = {"p_present": "P wave present", "pr_ms": "PR interval", "qrs_ms": "QRS duration", "qt_ms": "QT interval",
         "p_mv": "P amplitude", "r_mv": "R amplitude", "t_mv": "T amplitude", "st_mv": "ST level"}


def _fmt(v: float | None, unit: str) -> str:
    return F.fmt(v, unit, with_unit=True)


def feature_lines(feat: dict) -> dict[str, str]:
    """One plain sentence per feature: generated vs real, the distance, and what it is compared with."""
    out = {}
    for name, (unit, _) in F.FEATURES.items():
        g, r, fl, av = (feat[k][name] for k in ("generated", "real", "floor", "average"))
        if name == "p_present":
            what = f"in {g['rate']:.0%} of generated beats, {r['rate']:.0%} of real ones"
        else:
            what = (f"generated {_fmt(g['median'], unit)} ± {_fmt(g['sd'], unit)}, real {_fmt(r['median'], unit)} ± "
                    f"{_fmt(r['sd'], unit)}")
        out[name] = (f"{NAMES[name]}: {what}; distance {_fmt(g['w1'], unit)} (another set of real patients: "
                     f"{_fmt(fl['w1'], unit)}, the average beat: {_fmt(av['w1'], unit)}): {feat['standing'][name]}")
    return out


def figure(gen_mv: np.ndarray, real_mv: np.ndarray, rep: dict, r_index: int, fs: float, title: str, seed: int = 0):
    """The report's figure (matplotlib Figure): beats, median beats with P/QRS/T, feature histograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gen = np.asarray(gen_mv, dtype=np.float64).reshape(len(gen_mv), -1)[:F.FEATURE_BEATS]
    real = np.asarray(real_mv, dtype=np.float64).reshape(len(real_mv), -1)
    real = real[F.subset(len(real), 2 * F.FEATURE_BEATS)]  # the beats `compare` measured
    pts = {label: F.delineate(x, r_index, fs) for label, x in (("generated", gen), ("real", real))}
    feats = {label: F.features(x, pts[label], r_index, fs) for label, x in (("generated", gen), ("real", real))}
    t = (np.arange(gen.shape[1]) - r_index) * 1000.0 / fs
    rng = np.random.default_rng(seed)
    colours = {"real": "tab:green", "generated": "tab:purple"}

    fig = plt.figure(figsize=(15, 10.5))
    grid = fig.add_gridspec(3, 4, height_ratios=[1.25, 1, 1])
    both = np.concatenate([gen.ravel(), real.ravel()])
    both = both[np.isfinite(both)]  # a diverged generator's NaN beats are not drawn
    lo, hi = (both.min(), both.max()) if both.size else (-1.0, 1.0)
    hi = hi if hi > lo else lo + 1.0
    for col, (label, x) in enumerate((("real", real), ("generated", gen))):
        ax = fig.add_subplot(grid[0, col])
        for b in x[rng.choice(len(x), size=min(12, len(x)), replace=False)]:
            ax.plot(t, b, lw=0.7, alpha=0.85)
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.set_title(f"{label}: 12 beats at random" + (" (held-out test patients)" if label == "real" else ""),
                     fontsize=9)
        ax.set_xlabel("ms from R peak", fontsize=8)
        ax.set_ylabel("mV", fontsize=8)
    ax = fig.add_subplot(grid[0, 2:])
    for label, x in (("real", real), ("generated", gen)):
        med = np.median(x, axis=0)
        ax.plot(t, med, c=colours[label], lw=1.6, label=f"{label}: median beat")
        p = {n: pts[label][:, i] for i, n in enumerate(F.POINTS)}

        def at(name: str) -> float | None:
            v = p[name][p[name] >= 0]
            return float(t[int(np.median(v))]) if v.size > len(x) / 2 else None  # only where most beats have it

        y = 0.92 if label == "real" else 0.84
        for wave, on, off in (("P", "p_on", "p_off"), ("QRS", "qrs_on", "qrs_off"), ("T", "t_peak", "t_off")):
            a, b = at(on), at(off)
            if a is not None and b is not None:
                ax.axvspan(a, b, color=colours[label], alpha=0.12)
                ax.annotate(wave, ((a + b) / 2, y), xycoords=("data", "axes fraction"), ha="center", fontsize=9,
                            color=colours[label], weight="bold")
    ax.set_title("median beats; shaded: P, QRS and T (peak to end) where most beats have them (delineator)",
                 fontsize=9)
    ax.set_xlabel("ms from R peak", fontsize=8)
    ax.set_ylabel("mV", fontsize=8)
    ax.legend(fontsize=8, loc="lower right")
    for k, (name, (unit, _)) in enumerate(F.FEATURES.items()):
        ax = fig.add_subplot(grid[1 + k // 4, k % 4])
        if name == "p_present":
            rates = [feats[lbl][name].mean() for lbl in ("real", "generated")]
            ax.bar(["real", "generated"], rates, color=[colours["real"], colours["generated"]], alpha=0.7)
            ax.set_ylim(0, 1)
            ax.set_ylabel("share of beats", fontsize=8)
        else:
            vals = {lbl: feats[lbl][name][np.isfinite(feats[lbl][name])] for lbl in ("real", "generated")}
            both = np.concatenate(list(vals.values()))
            if both.size:
                a, b = np.percentile(both, [1, 99])
                bins = np.linspace(a, b, 30) if b > a else 10
                for lbl, v in vals.items():
                    ax.hist(v, bins=bins, density=True, alpha=0.5, color=colours[lbl], label=lbl)
            ax.set_xlabel(unit, fontsize=8)
            ax.set_yticks([])
        ax.set_title(f"{NAMES[name]}: {rep['features']['standing'][name]}", fontsize=9)
        if k == 1:
            ax.legend(fontsize=8)
    fig.suptitle("\n".join(textwrap.wrap(title, 190)), fontsize=10)
    fig.tight_layout()
    return fig


def _table(head: list[str], rows: list[list[str]]) -> str:
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def page(rep: dict, png: bytes, title: str, source: str, usable: bool) -> str:
    """The self-contained HTML page (the PNG embedded as base64). `usable`: model.json's verdict
    (evaluate.verdict_of: below the average beat on validation and test, and plausible)."""
    v, pl, feat = rep["verdict"], rep["plausibility"], rep["features"]
    head = ("USABLE" if usable else "NOT USABLE") + (": beats look like ECG" if pl["plausible"] else
                                                     ": its beats are not plausible ECG")
    checks = _table(["check", "generated", "real", ""], [
        [html.escape(c["check"]), f"{c['value']:.0%}", f"{c['real']:.0%}", "ok" if c["ok"] else "<b>fails</b>"]
        for c in pl["checks"]])
    lines = feature_lines(feat)
    ftab = _table(["feature", "standing", "verdict", "why it matters"], [
        [NAMES[n], f"<span class='{feat['standing'][n].replace(' ', '-')}'>{feat['standing'][n]}</span>",
         html.escape(lines[n].split(": ", 1)[1]), html.escape(why)] for n, (_, why) in F.FEATURES.items()])
    g, fl, av = rep["generated"], rep["floor"], rep["average"]
    mtab = _table(["metric", "generated", "real-vs-real floor", "average beat", "better"], [
        [lbl, f"{g[k]:.3g}", f"{fl[k]:.3g}", f"{av[k]:.3g}", d] for k, lbl, d in METRICS if k in g])
    shape = rep["shape"]  # present whenever features are (both need the R index)
    extra = (f"MMD² as a V-statistic, multiple of real beats': {rep['mmd_v_ratio']:.2f}. Copy check (nearest training "
             f"beat, generated / real): {rep['copy_ratio']:.2f} (well below 1 = copying). Spread profile correlation "
             f"(where along the beat beats vary, 1 = as real): {shape['spread_profile_corr']:.2f}. "
             f"Roughness / real: {shape['roughness_ratio']:.2f}.")
    img = base64.b64encode(png).decode()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 1200px; color: #222; }}
.verdict {{ padding: .8em 1em; border-radius: 6px; font-size: 1.15em; }}
.good {{ background: #e3f4e1; border: 1px solid #7bbf72; }} .bad {{ background: #fbe4e1; border: 1px solid #d9776b; }}
table {{ border-collapse: collapse; margin: .6em 0 1.2em; font-size: .92em; }}
td, th {{ border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }}
.close {{ color: #2a7a2a; font-weight: bold; }} .near {{ color: #a66b00; font-weight: bold; }}
.far {{ color: #b3261e; font-weight: bold; }}
img {{ width: 100%; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="verdict {'good' if usable else 'bad'}"><b>{head}.</b> {html.escape(v['summary'])}</p>
<img alt="generated vs real beats, median beats with P/QRS/T, feature histograms" src="data:image/png;base64,{img}">
<h2>Is it ECG at all?</h2>{checks}
<h2>P, QRS and T against real beats</h2>
<p>Every set is delineated the same way (neurokit2's wavelet delineator) and compared with held-out real beats by the
Wasserstein-1 distance between feature distributions. <i>close</i>: within 2x the distance between two sets of
real patients; <i>near</i>: within 4x; <i>far</i>: beyond. The delineator's own error against LUDB's cardiologists is
in bench/RESULTS.md.</p>{ftab}
<h2>Population metrics (test split)</h2>{mtab}<p>{html.escape(extra)}</p>
<p style="color:#666">{html.escape(source)}</p>
</body></html>
"""


def write(folder: Path, rep: dict, gen_mv: np.ndarray, real_mv: np.ndarray, r_index: int, fs: float,
          title: str, source: str, usable: bool) -> tuple[Path, Path]:
    """Write `report.png` and `report.html` into `folder` (each through a temporary file) from a
    `metrics.report` result with features; `usable` as model.json's verdict says. Returns both paths."""
    import io

    import matplotlib.pyplot as plt

    fig = figure(gen_mv, real_mv, rep, r_index, fs, f"{title}: {rep['verdict']['summary']}")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    png = buf.getvalue()
    replace_file(folder / "report.png", lambda tmp: Path(tmp).write_bytes(png))
    write_text(folder / "report.html", page(rep, png, title, source, usable))
    return folder / "report.html", folder / "report.png"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ecgmodels.report", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="example:\n  python -m ecgmodels.report --model results/ludb-ii-reference/best\n"
                                "then open results/ludb-ii-reference/best/report.html in a browser")
    p.add_argument("--model", required=True, help="export folder (holds model.json and checkpoint.pt)")
    p.add_argument("--n", type=int, default=TEST_N, help="generated beats to draw and score (default %(default)s)")
    p.add_argument("--data-dir", help="LUDB folder (default: LUDB_DIR or the user cache, as datasets.build)")
    p.add_argument("--out", help="folder to write report.html and report.png into (default: the export folder)")
    args = p.parse_args(argv)
    if error := too_few_beats("--n", args.n):
        p.error(error)
    from .evaluate import ExportUnusable, open_export, recorded_validation_flag, verdict_of
    from .metrics import draw, report
    from .train import sampler

    folder = Path(args.model)
    out = Path(args.out) if args.out else folder
    if out.exists() and not out.is_dir():
        p.error(f"--out {out} is a file; give a folder")
    try:
        info, cfg, G, ds, kernel = open_export(folder, args.data_dir)
    except ExportUnusable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    print(f"scoring {args.n} beats of {folder} on the test split (delineating every set: ~30 s)...", flush=True)
    try:
        rep = report(sampler(G), **ds.evaluation_inputs("test"), kernel=kernel, n=args.n, seed=cfg.seed, bootstrap=0)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    verdict = verdict_of(rep, recorded_validation_flag(info))
    gen = draw(sampler(G), args.n, rep["noise_seed"]) * ds.scale_mv
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = write(out, rep, gen, ds.to_mv(ds.part("test")), ds.config.r_index, float(ds.meta["fs"]),
                      f"generator {folder.as_posix()}", f"python -m ecgmodels.report --model {folder.as_posix()}",
                      verdict["usable"])
    except OSError as exc:
        print(f"error: cannot write the report into {out}: {exc}", file=sys.stderr)
        return 2
    print(f"verdict: {'usable' if verdict['usable'] else 'NOT USABLE'}; {rep['verdict']['summary']}")
    print(f"written: {paths[0]}, {paths[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
