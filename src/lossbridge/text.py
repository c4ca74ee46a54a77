"""Readable plain-text tables of an :class:`~lossbridge.analysis.Analysis` (CLI output)."""

from __future__ import annotations

import math

import pandas as pd


def _number(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, (int, float)):
        if value == 0:
            return "0"
        if abs(value) < 1e-3 or abs(value) >= 1e7:
            return f"{value:.3e}"
        return f"{value:.6g}"
    return str(value)


def _table(frame: pd.DataFrame) -> str:
    return frame.map(_number).to_string()


def format_analysis(analysis) -> str:
    """All tables of ``analysis`` as one string."""
    design = analysis.design
    lines = [
        f"lossbridge: {design.formula}   data: {design.source}",
        f"n = {design.n} rows, k = {design.k} coefficients, y hash {design.y_hash}"
        + (f", {design.dropped_rows} row(s) with missing values dropped" if design.dropped_rows else ""),
        f"priors: {analysis.options['priors']}"
        + (" (MAP = maximum likelihood)" if analysis.options["priors"] == "flat" else ""),
    ]
    for result in analysis.fits:
        if result.spec.scale == "fixed":
            lines.append(
                f"fixed {result.spec.family.scale_name} for {result.spec.name}: "
                f"{result.spec.fixed_scale:.6g} ({result.spec.fixed_scale_source})"
            )
    lines += ["", "MAP estimates beside the exact fits", _table(analysis.coefficients())]
    lines += ["", "Relative difference of each MAP coefficient from its exact fit",
              _table(analysis.differences())]
    cert = analysis.certificates()
    lines += ["", "Certificates (MAP versus exact minimiser of the loss)", _table(cert)]
    nll = analysis.nll_table().drop(columns=["constant_formula", "loss_term_formula"])
    lines += ["", "Negative log-likelihood at the MAP = constant + scaled loss "
              "(checked against PyMC's log-likelihood)", _table(nll)]
    formulas = {
        r.spec.likelihood: f"{r.spec.likelihood}: NLL = {r.nll.constant_formula} + {r.nll.loss_term_formula}"
        for r in analysis.fits
    }
    lines += ["  " + text for text in formulas.values()]
    lines += ["", "How each MAP was computed"]
    lines += [f"  {r.spec.name}: {r.map.method}" for r in analysis.fits]
    lines += [f"  exact {r.baseline.method.upper()}: {r.baseline.solver}"
              for r in {r.baseline.method: r for r in analysis.fits}.values()]
    lines.append("")
    if analysis.all_certified:
        lines.append(f"All {len(analysis.fits)} MAP estimates certified against the exact fits.")
    else:
        failed = [r.spec.name for r in analysis.fits if not r.certificate.certified]
        lines.append(f"!!! NOT CERTIFIED: {', '.join(failed)} -- see the certificates table !!!")
    for warning in analysis.warnings:
        lines.append(f"warning [{warning['code']}]: {warning['message']}")
    return "\n".join(lines)
