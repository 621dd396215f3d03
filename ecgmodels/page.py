"""The report of an export, as pictures and one page: `report.html` (self-contained) and `report.png`
(generated beats beside held-out real ones, median beats with P, QRS and T marked, the P/QRS/T
feature histograms, the metrics beside both baselines, a verdict per feature), and the side-by-side
picture of generated and real beats (`samples.png`, `ecgmodels.sample --plot`)."""
from __future__ import annotations

import base64
import html
import textwrap
from pathlib import Path

import numpy as np

from . import fiducial as F
from .atomic import replace_file, write_text
from .registry import METRICS as REGISTRY

# Population metrics shown, with how to read them: (key, label, direction)
# report.html's metrics table: the registry's metrics that have a page label, and which way is better
METRICS = [(m.name, m.page, {"lower": "lower", "higher": "higher", "one": "1"}[m.direction]) for m in REGISTRY if m.page]
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

    lead = rep.get("feature_lead", 0)  # the lead the features were measured on (reports before it: one lead)
    one = lambda x: np.asarray(x, dtype=np.float64).reshape(len(x), -1, np.shape(x)[-1])[:, lead]  # noqa: E731
    gen, real = one(gen_mv)[:F.FEATURE_BEATS], one(real_mv)
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
             f"beat, generated / real): {rep['copy_ratio']:.2f} (well below 1 = copying). Shape: "
             + "; ".join(f"{m.label} {shape[m.name]:.2f} ({m.about})" for m in REGISTRY if m.compute and m.name in shape) + ".")
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


def plot_side_by_side(gen_mv: np.ndarray, real_mv: np.ndarray | None, info: dict, path: Path, k: int = 16,
                      seed: int = 0, title: str | None = None) -> Path:
    """PNG, in mV against ms from the R peak: `k` real beats drawn at random (left; the first ones
    would all come from one record), `k` generated beats drawn at random (middle), and the
    beat-to-beat spread of all of each set (right: the standard deviation across beats at each
    sample, with each set's mean beat): a generator that draws one template shows a flat spread."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    t = (np.arange(gen_mv.shape[-1]) - info["r_index"]) * 1000.0 / info["fs"]
    pick = lambda x: x[rng.choice(len(x), size=min(k, len(x)), replace=False)]  # noqa: E731
    panels = [(f"real (test split), {k} at random", real_mv), (f"generated, {k} at random", gen_mv)]
    panels = [(ttl, x) for ttl, x in panels if x is not None]
    fig, axes = plt.subplots(1, len(panels) + 1, figsize=(5.2 * (len(panels) + 1), 3.8), squeeze=False)
    for ax, (ttl, beats) in zip(axes[0], panels):
        for b in pick(beats):
            ax.plot(t, b[0], lw=0.7, alpha=0.8)
        ax.set_title(f"{ttl}, lead {info['leads'][0]}", fontsize=9)
        ax.set_xlabel("ms from R peak")
        ax.set_ylabel("mV")
    lo = min(x[:, 0].min() for _, x in panels)
    hi = max(x[:, 0].max() for _, x in panels)
    for ax in axes[0][:len(panels)]:
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))  # one scale: amplitudes compare at a glance
    ax = axes[0][-1]
    for (ttl, beats), colour in zip(panels, ("tab:green", "tab:purple")):
        name = ttl.split(",")[0]
        ax.plot(t, beats[:, 0].std(axis=0), c=colour, lw=1.2, label=f"{name}: spread (sd), n={len(beats)}")
        ax.plot(t, beats[:, 0].mean(axis=0), c=colour, lw=0.8, ls="--", label=f"{name}: mean beat")
    ax.set_title("beat-to-beat spread and mean", fontsize=9)
    ax.set_xlabel("ms from R peak")
    ax.set_ylabel("mV")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
    return path
