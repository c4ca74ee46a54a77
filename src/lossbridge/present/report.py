"""The self-contained HTML report: assembles tables and figures of an Analysis.

Nothing here computes statistics: tables come from the Analysis, figure data from
:mod:`lossbridge.present.plot_data`, drawing from :mod:`lossbridge.present.plots`. Figures are embedded
as ``data:`` images (SVG, or PNG when the SVG would be large), so the file needs no
network and runs no script; every user-supplied string passes through Jinja2's
autoescaping. :func:`write_report` writes atomically.
"""

from __future__ import annotations

import base64
import io
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from ..core.labels import plus_minus
from ..core.outputs import check_output, write_text_atomically
from . import plot_data, plots
from .dictionary import dictionary_entries, run_offset_statement

SVG_LIMIT_BYTES = 350_000
PACKAGES = ("lossbridge", "pymc", "pytensor", "arviz", "numpy", "scipy", "pandas", "formulaic",
            "matplotlib", "jinja2")


def _environment() -> Environment:
    env = Environment(loader=PackageLoader("lossbridge", "present/templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["num"] = _format_number
    env.filters["pm"] = _plus_minus
    return env


def _format_number(value, digits: int = 4) -> str:
    if value is None or value is pd.NA:
        return "–"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not np.isfinite(number):
        return "–"
    if number == 0:
        return "0"
    if abs(number) < 1e-3 or abs(number) >= 1e7:
        return f"{number:.{digits - 1}e}"
    return f"{number:.{digits}g}"


def _plus_minus(value, se) -> str:
    """``value|pm(se)``: both to the same decimals (:func:`lossbridge.core.labels.plus_minus`)."""
    try:
        value, se = float(value), float(se)
    except (TypeError, ValueError):
        return f"{_format_number(value)} ± {_format_number(se)}"
    return plus_minus(value, se)


# ---------------------------------------------------------------------------- figures
def _encode(fig) -> dict:
    """A figure as a data URI (SVG unless too large, then PNG) with its pixel size."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    data, mime = buffer.getvalue(), "image/svg+xml"
    if len(data) > SVG_LIMIT_BYTES:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
        data, mime = buffer.getvalue(), "image/png"
    width, height = fig.get_size_inches() * 96
    plt.close(fig)
    return {"uri": f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}",
            "width": int(width), "height": int(height)}


def _figures(analysis) -> dict[str, dict]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "lossbridge"})
    design = analysis.design
    figures = {}
    forest = plot_data.forest_frame(analysis)
    baselines = plot_data.forest_baselines(analysis)
    terms = list(design.terms)
    if design.predictors > 1:  # a categorical y: one column of panels per non-reference level
        fig, axes = _forest_grid(forest, baselines, design)
    else:
        fig, axes = plt.subplots(len(terms), 1, figsize=(7.5, 1.0 + 1.15 * len(terms)),
                                 squeeze=False)
        for ax, term in zip(axes[:, 0], terms, strict=True):
            plots.plot_forest_term(ax, forest, baselines, term)
    if baselines:
        # beside the panels, never over a model's interval
        axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
                          frameon=False)
    fig.tight_layout()
    figures["forest"] = _encode(fig)

    draws = plot_data.scale_draws(analysis)
    if draws:
        fixed = plot_data.fixed_scales(analysis)
        groups = {}  # scale name -> models (ModelId) with that scale
        for r in analysis.fits:
            groups.setdefault(r.spec.family.scale_name, []).append(r.spec.model_id)
        names = [n for n, models in groups.items() if any(m in draws for m in models)]
        fig, axes = plt.subplots(1, len(names), figsize=(3.8 * len(names), 2.8), squeeze=False)
        for ax, name in zip(axes[0], names, strict=True):
            plots.plot_scale_posteriors(ax, {m: draws[m] for m in groups[name] if m in draws},
                                        {m: fixed[m] for m in groups[name] if m in fixed}, name)
        fig.tight_layout()
        figures["scales"] = _encode(fig)

    bands = plot_data.scale_bands(analysis)
    if bands:  # heteroscedastic models: sigma(x) with its posterior band
        figures["scale_bands"] = _panel_row(bands, plots.plot_scale_band)

    paired = plot_data.fixed_vs_learned_frame(analysis)
    if not paired.empty:
        likelihoods = list(dict.fromkeys(paired["likelihood"]))
        fig, axes = plt.subplots(len(terms), len(likelihoods), squeeze=False,
                                 figsize=(3.9 * len(likelihoods), 0.4 + 1.0 * len(terms)))
        for i, term in enumerate(terms):
            for j, likelihood in enumerate(likelihoods):
                plots.plot_fixed_vs_learned(axes[i, j], paired, likelihood, term)
        fig.tight_layout()
        figures["fixed_vs_learned"] = _encode(fig)

    for key, panels, draw in (
        ("residuals", plot_data.residual_densities(analysis), plots.plot_residuals),
        ("residuals_vs_fitted", plot_data.residuals_vs_fitted(analysis), plots.plot_residuals_vs_fitted),
        ("qq", plot_data.qq_frames(analysis), plots.plot_qq),
        # discrete fits: no additive noise; observed against expected frequencies instead
        ("rootogram", plot_data.rootograms(analysis), plots.plot_rootogram),
        ("calibration", plot_data.calibration_curves(analysis), plots.plot_calibration),
        # a categorical y: class frequencies, calibration per level, confusion counts
        ("class_frequencies", plot_data.class_frequencies(analysis), plots.plot_class_frequencies),
        ("class_calibration", plot_data.class_calibration(analysis), plots.plot_class_calibration),
        ("confusion", plot_data.confusion_tables(analysis), plots.plot_confusion),
    ):
        if panels:  # none when no model has an exact counterpart
            figures[key] = _panel_row(panels, draw)

    ppc = plot_data.ppc_densities(analysis)
    if ppc:
        fig, axes = plt.subplots(1, len(ppc), figsize=(2.6 * len(ppc), 2.3), squeeze=False)
        for ax, (model, data) in zip(axes[0], ppc.items(), strict=True):
            plots.plot_ppc(ax, data, model, design.response)
        fig.tight_layout()
        figures["ppc"] = _encode(fig)
        pit = plot_data.loo_pit_curves(analysis)
        if pit:  # continuous models only
            fig, axes = plt.subplots(1, len(pit), figsize=(2.6 * len(pit), 2.3), squeeze=False,
                                     sharey=True)
            for ax, (model, data) in zip(axes[0], pit.items(), strict=True):
                plots.plot_loo_pit(ax, data, model)
            fig.tight_layout()
            figures["loo_pit"] = _encode(fig)
    if analysis.comparison is not None and not analysis.comparison.table.empty:
        fig, ax = plt.subplots(figsize=(7.5, 0.6 + 0.55 * len(analysis.comparison.table)))
        plots.plot_comparison(ax, analysis.comparison.table,
                              {c.name: c.model_id for c in analysis.comparison.candidates})
        fig.tight_layout()
        figures["comparison"] = _encode(fig)
    return figures


def _forest_grid(forest: pd.DataFrame, baselines: list[dict], design):
    """The forest of a categorical y's p x (K - 1) coefficients as a grid: one row of panels
    per column of X, one column per non-reference level (its coefficients against the
    reference), each titled ``x[level]``; model names on the first column only."""
    import matplotlib.pyplot as plt

    columns, levels = list(design.columns), list(design.classes[1:])
    models = forest["model"].nunique()
    fig, axes = plt.subplots(len(columns), len(levels), squeeze=False,
                             figsize=(min(2.4 * len(levels), 15.0),
                                      0.9 + (0.55 + 0.25 * models) * len(columns)))
    for c in range(len(levels)):
        for j in range(len(columns)):
            ax = axes[j, c]
            plots.plot_forest_term(ax, forest, baselines, design.terms[c * len(columns) + j])
            ax.tick_params(axis="x", labelsize=7)
            if c:
                ax.set_yticklabels([])
    fig.suptitle(plots.safe_label(f"Coefficients of each level of {design.response} against "
                                  f"the reference level {design.classes[0]!r} (columns: "
                                  "levels; rows: terms)"), fontsize=10, x=0.01, ha="left")
    fig.tight_layout()
    return fig, axes


# ---------------------------------------------------------------------------- context
def _verdict(analysis) -> dict:
    """The analysis' one verdict (:mod:`lossbridge.posterior.verdict`), as the template shows it."""
    verdict = analysis.verdict
    return {
        "headline": verdict.headline,
        "detail": list(verdict.details),
        "status": verdict.status,
        "certified": verdict.all_certified,
        "uncertified": list(verdict.uncertified),
        "warnings": analysis.warnings,
        "sampled": analysis.sampled,
        # which exact fit certifies which loss, and the models that have none
        "exact_fits": list(dict.fromkeys(
            f"{r.spec.family.exact_name} for {r.spec.family.loss_name}" for r in analysis.fits
            if r.certificate is not None)),
        "no_counterpart": [r.spec.name for r in analysis.fits
                           if r.spec.family.exact_solver is None],
    }


def _misfit(analysis) -> dict | None:
    """Misfit warnings by model and the residual description (None without sampling)."""
    if analysis.misfit is None:
        return None
    return {"warnings": list(analysis.misfit.warnings),
            "models": sorted(analysis.misfit.misfit_models),
            "residual_shape": list(analysis.misfit.residual_shape),
            # why no residual description was made (a discrete y), when none was
            "residual_note": analysis.misfit.residual_statistics.get("skipped")}


def _panel_row(panels: list, draw) -> str:
    """One row of equal panels, ``draw(ax, panel)`` each, encoded for the page."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(3.9 * len(panels), 2.8), squeeze=False)
    for ax, data in zip(axes[0], panels, strict=True):
        draw(ax, data)
    fig.tight_layout()
    return _encode(fig)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{"name": index, **row} for index, row in frame.to_dict(orient="index").items()]


def report_context(analysis, command: str | None = None) -> dict:
    """Everything the template shows, as plain data."""
    design = analysis.design
    fits = []
    for r in analysis.fits:
        fits.append({
            "name": r.spec.name,
            "color": plots.model_color(r.spec.model_id),
            "likelihood": r.spec.likelihood,
            "title": r.spec.family.title,
            "scale_mode": r.spec.scale,
            # a discrete predictive: its non-randomised LOO-PIT is not uniform, not shown
            "discrete": r.spec.family.density_kind == "discrete",
            "scale_name": r.spec.family.scale_name,
            "loss": r.spec.family.loss_name,
            "loss_symbol": r.spec.family.loss_symbol,
            "fixed_scale": r.spec.fixed_scale,
            "fixed_source": r.spec.fixed_scale_source,
            "map_method": r.map.method,
            "nll": r.nll.as_dict(),
            "certificate": None if r.certificate is None else r.certificate.as_dict(),
            "certificate_note": r.as_dict(analysis.design.terms,
                                          analysis.design.scale_terms)["certificate_note"],
            "posterior": None if r.posterior is None else _records(r.posterior.summary),
            "diagnostics": None if r.posterior is None else r.posterior.diagnostics_dict(),
            "loo": None if r.posterior is None else r.posterior.loo_dict(),
            "ppc": None if r.posterior is None else r.posterior.ppc_dict(),
            "oracle": None if r.posterior is None else r.posterior.oracle_dict(),
            "adjusted": (None if r.posterior is None or r.posterior.adjusted is None
                         else r.posterior.adjusted.as_dict()),
            "priors": analysis.options["prior_details"][r.spec.name],
        })
    coefficients = analysis.coefficients()
    differences = analysis.differences()
    comparison = None
    if analysis.comparison is not None:
        quantile = analysis.comparison.quantile_table
        comparison = {"rows": _records(analysis.comparison.table.drop(columns=["pareto_warning"])),
                      "sentences": analysis.comparison.sentences,  # [0]: the verdict's headline
                      "excluded": dict(analysis.verdict.excluded),
                      "quantile_rows": _records(
                          quantile[~quantile["other_kind"].astype(bool)]
                          .drop(columns=["comparison_group", "reason", "other_kind"])),
                      # models of the density kind not ranked here, one section per kind
                      "kind_groups": [
                          {"group": group, "reason": rows["reason"].iloc[0],
                           "names": list(rows.index),
                           "rows": _records(rows.drop(columns=["comparison_group", "reason",
                                                               "other_kind"]))}
                          for group, rows in quantile[quantile["other_kind"].astype(bool)]
                          .groupby("comparison_group", sort=False)]}
    return {
        "title": f"lossbridge: {design.formula}",
        "design": design.summary(),
        "options": analysis.options,
        "verdict": _verdict(analysis),
        "fits": fits,
        "coefficients": {"columns": list(coefficients.columns), "rows": _records(coefficients)},
        "differences": {"columns": list(differences.columns), "rows": _records(differences)},
        "comparison": comparison,
        # the exact cross-entropy / KL table against the data's law (--truth), plain data
        "truth": None if analysis.truth is None else analysis.truth.as_dict(),
        "dictionary": dictionary_entries(analysis),
        "offset": run_offset_statement(analysis),  # --exposure: log μ = Xβ + log(t)
        "colors": {r.spec.name: plots.model_color(r.spec.model_id) for r in analysis.fits},
        "misfit": _misfit(analysis),
        "figures": _figures(analysis),
        "forest_lines": [f"{plots.baseline_line_word(position)} line {name}" for name, position
                         in dict.fromkeys((b["name"], b["position"])
                                          for b in plot_data.forest_baselines(analysis))],
        "residual_note": plot_data.residual_note(analysis),
        "any_continuous": any(r.spec.family.density_kind == "continuous" for r in analysis.fits),
        "footer": {
            "command": command or analysis.options.get("command") or "lossbridge.fit(...)",
            "seed": analysis.options.get("seed"),
            "versions": _versions(),
            "started_at": analysis.started_at,
            "seconds": analysis.timings,
        },
    }


def render_html(analysis, command: str | None = None, fragment: bool = False) -> str:
    """The report as an HTML string (a full document, or a fragment for notebooks)."""
    template = _environment().get_template("report.html.j2")
    return template.render(fragment=fragment, **report_context(analysis, command))


def write_report(analysis, path: str | Path, command: str | None = None) -> Path:
    """Render and write the report atomically (temporary file in the same folder, then rename)."""
    path = check_report_path(path)
    html = render_html(analysis, command)
    return write_text_atomically(path, html, what="report")


def check_report_path(path: str | Path, option: str | None = None, inputs=(),
                      create_parent: bool = False) -> Path:
    """Raise unless ``path`` can receive the report (checked before any expensive work).

    See :func:`lossbridge.core.outputs.check_output`: a regular file or a new name in a
    writable folder, not a FIFO, device or directory, and none of ``inputs``.
    """
    return check_output(path, what="report", option=option, inputs=inputs,
                        create_parent=create_parent)
