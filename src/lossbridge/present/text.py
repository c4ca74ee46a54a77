"""Readable plain-text tables of an :class:`~lossbridge.interfaces.results.Analysis` (CLI output)."""

from __future__ import annotations

import math

import pandas as pd

from ..core.labels import plus_minus
from .dictionary import dictionary_lines, run_offset_statement


def _number(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
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


RHAT_NOTE = ("r_hat '-': R-hat needs ≥ 2 chains (it compares chains); run with --chains 2 "
             "or more to check convergence")


def format_analysis(analysis) -> str:
    """All tables of ``analysis`` as one string."""
    design = analysis.design
    verdict = analysis.verdict
    lines = [f"Verdict: {verdict.headline}", *(f"  {line}" for line in verdict.details), ""]
    lines += [
        f"lossbridge: {design.formula}   data: {design.source}",
        f"n = {design.n} rows, k = {design.k} coefficients, y hash {design.y_hash}"
        + (f", {design.dropped_rows} row(s) with missing values dropped" if design.dropped_rows else ""),
        *design.notes,  # e.g. the coding of a two-level response (--positive)
        # a categorical y: the rows of each level (its codes' mean would mean nothing)
        *([f"rows per level of {design.response!r}: " + ", ".join(
            f"{level}: {count} ({100 * count / design.n:.1f}%)"
            for level, count in design.class_counts().items())]
          if design.classes is not None else []),
        *([f"model: {offset}"] if (offset := run_offset_statement(analysis)) else []),
        f"priors: {analysis.options['priors']}"
        + (f" (MAP = maximum likelihood{_learned_shape_caveat(analysis)})"
           if analysis.options["priors"] == "flat" and not analysis.options.get("penalty")
           else ""),
    ]
    if analysis.options.get("penalty"):  # the prior each penalty is, model by model
        for result in analysis.fits:
            details = analysis.options["prior_details"][result.spec.name]
            lines += [f"prior of {result.spec.name}:"] + [
                f"  {term}: {text}" for term, text in details.items()]
    for result in analysis.fits:
        if result.spec.scale == "fixed":
            lines.append(
                f"fixed {result.spec.family.scale_name} for {result.spec.name}: "
                f"{result.spec.fixed_scale:.6g} ({result.spec.fixed_scale_source})"
            )
    lines += ["", "MAP estimates beside the exact fits", _table(analysis.coefficients())]
    differences = analysis.differences()
    if differences.shape[1]:  # none without an exact fit (a separated binary y)
        lines += ["", "Relative difference of each MAP coefficient from its exact fit",
                  _table(differences)]
    cert = analysis.certificates()
    if cert.empty:  # weak priors: nothing to certify against
        pull = ("; the relative differences above are the priors' pull" if differences.shape[1]
                else "")
        lines += ["", "Certificates: none. Under weak priors the MAP is a penalised fit (the "
                  "posterior mode), not the minimiser of the loss, so no exact fit can certify "
                  f"it{pull}."]
    else:
        lines += ["", "Certificates (MAP versus exact minimiser of the loss)", _table(cert)]
    nll = analysis.nll_table().drop(columns=["constant_formula", "loss_term_formula"])
    lines += ["", "Negative log-likelihood at the MAP = constant + scaled loss "
              "(checked against PyMC's log-likelihood)", _table(nll)]
    lines += ["", "Loss dictionary (each family: its loss, density, NLL and classical fit)",
              *dictionary_lines(analysis)]
    lines += ["", "How each MAP was computed"]
    lines += [f"  {r.spec.name}: {r.map.method}" for r in analysis.fits]
    lines += _exact_fit_lines(analysis.fits)
    lines += _posterior_sections(analysis)
    lines += truth_lines(analysis.truth)
    lines.append("")
    if analysis.all_certified is None:
        lines.append("MAP certificates do not apply under weak priors (the MAP is a penalised fit).")
    elif analysis.all_certified:
        checked = [r for r in analysis.fits if r.certificate is not None]
        lines.append(f"All {len(checked)} MAP estimates certified against the exact fits."
                     + "".join(f" {r.spec.name}: no exact counterpart." for r in analysis.fits
                               if r.baseline is None and r.certificate is None))
    else:
        failed = [r.spec.name for r in analysis.fits if r.certified is False]
        lines.append(f"!!! NOT CERTIFIED: {', '.join(failed)} -- see the certificates table !!!")
    if not analysis.options.get("sample"):
        lines.append("No posterior sampling (--no-sample): MAP and exact fits only.")
    for warning in analysis.warnings:
        lines.append(f"warning [{warning['code']}]: {warning['message']}")
    if analysis.sampled and not analysis.warnings:
        lines.append("No diagnostic warnings.")
    return "\n".join(lines)


def _posterior_sections(analysis) -> list[str]:
    if not analysis.sampled:
        return []
    opts = analysis.options
    hdi = f"{100 * opts['hdi_prob']:g}% HDI"
    chains = "1 chain" if opts["chains"] == 1 else f"{opts['chains']} chains"
    tuning = (f" after {opts['tune']} tuning steps (NUTS)"
              if any(r.posterior.draws.nuts for r in analysis.fits) else "")
    lines = ["", f"Posterior ({chains} x {opts['draws']} draws per model{tuning}, seed "
             f"{opts['seed']}; hdi_low/hdi_high: {hdi}; each model's sampler under 'Sampler "
             "diagnostics')"]
    if opts["chains"] < 2:
        lines.append(f"  {RHAT_NOTE}")
    for result in analysis.fits:
        table = result.posterior.summary.drop(columns=["mcse_sd"])
        lines += [f"  {result.spec.name}", _indent(_table(table))]
    lines += _adjusted_lines(analysis.fits)
    oracle = analysis.oracle_table()
    if not oracle.empty:
        columns = ["exact_mean", "sampled_mean", "z_mean", "exact_sd", "sampled_sd", "z_sd"]
        verdicts = [
            f"{r.spec.name}: {'passed' if r.posterior.oracle.passed else 'FAILED'} "
            f"(max |z| = {r.posterior.oracle.max_abs_z:.2f}, exact posterior "
            f"{r.posterior.oracle.distribution})"
            for r in analysis.fits if r.posterior.oracle is not None
        ]
        titles = dict.fromkeys(r.spec.family.title for r in analysis.fits
                               if r.posterior.oracle is not None)
        lines += ["", f"Exact-posterior oracle ({' and '.join(titles)} likelihood, flat priors): z "
                  "in Monte Carlo standard errors, limit 4", _table(oracle[columns]),
                  *("  " + v for v in verdicts)]
    diag = {r.spec.name: {**r.posterior.diagnostics_dict(),
                          "bfmi": min(r.posterior.bfmi, default=float("nan")),
                          "loo": r.posterior.loo.method} for r in analysis.fits}
    samplers = [f"  {name}: {row.pop('sampler_text')}" for name, row in diag.items()]
    for row in diag.values():
        row.pop("independence_declined")  # in the sampler line
        if row["sampler"] != "nuts":  # NUTS statistics: none for another sampler
            row.update(divergences="-", nuts_run_models="-")
    rhat = "; max_r_hat '-': R-hat needs ≥ 2 chains" if opts["chains"] < 2 else ""
    lines += ["", f"Sampler diagnostics (min E-BFMI over chains{rhat})",
              _table(pd.DataFrame(diag).T.rename(columns={"bfmi": "min_bfmi"})), *samplers]
    ppc = pd.DataFrame({r.spec.name: r.posterior.ppc.p_values for r in analysis.fits}).T
    # LOO-PIT of continuous models only: the non-randomised PIT of a discrete predictive
    # is not uniform even for the true model (Czado, Gneiting and Held 2009)
    discrete = [r.spec.family.density_kind == "discrete" for r in analysis.fits]
    title = "Posterior predictive p-values P(T(y_rep) >= T(y))"
    if not all(discrete):
        ppc["loo_pit_ks"] = [DISCRETE_PIT if d else r.posterior.ppc.loo_pit_ks_distance
                             for r, d in zip(analysis.fits, discrete, strict=True)]
        # each model's own reference: its LOO-PIT values may be all n rows or a subsample
        ppc["ks_ref_95"] = [DISCRETE_PIT if d
                            else r.posterior.ppc.loo_pit_ks_reference_95
                            for r, d in zip(analysis.fits, discrete, strict=True)]
        title += ("; LOO-PIT distance from uniform (ks_ref_95: 95% point for as many "
                  "independent uniforms as the model has LOO-PIT values)")
    if any(discrete):
        title += "; no LOO-PIT for discrete models (their PIT is not uniform)"
    lines += ["", title, _table(ppc)]
    if analysis.comparison is not None:
        comparison = analysis.comparison
        table = _per_obs_strings(comparison.table.drop(columns=["pareto_warning", "n"])).rename(
            columns=PER_OBS_LABELS)
        if not table.empty:
            source = ("az.compare, stacking weights" if table["weight"].notna().any()
                      else "one model ranked: no stacking weights"
                      if int(comparison.table["ranked"].sum()) < 2
                      else "subsampled LOO: no stacking weights")
            lines += ["", f"Model comparison by leave-one-out ({source}; elpd: higher is "
                      "better; elpd_diff ± dse: difference to the best; loo: exact in closed "
                      "form or PSIS)", _table(table),
                      f"  per observation, in nats (n = {int(comparison.table['n'].max())}): "
                      "H/obs = -elpd_loo/n, the leave-one-out estimate of the cross-entropy "
                      "H(p*, model) from the data-generating law p*, ± H_se = se/n; "
                      "dKL/obs = elpd_diff/n, the estimate of KL(p*||model) - KL(p*||best), "
                      "± dKL_se = dse/n"]
        lines += ["  " + s for s in comparison.sentences]
        lines += _quantile_lines(comparison.quantile_table)
    return lines


def _adjusted_lines(fits) -> list[str]:
    """The Yang-Wang-He adjusted spread of quantile coefficients beside the raw posterior's."""
    rows = {}
    for result in fits:
        adjusted = result.posterior.adjusted
        if adjusted is None:
            continue
        record = adjusted.as_dict()
        for term, values in record["coefficients"].items():
            low, high = values["raw_interval"]
            a_low, a_high = values["adjusted_interval"]
            rows[(result.spec.name, term)] = {
                "mean": values["mean"], "raw_sd": values["raw_sd"],
                "adjusted_sd": values["adjusted_sd"], "raw_low": low, "raw_high": high,
                "adjusted_low": a_low, "adjusted_high": a_high}
        prob = record["interval_prob"]
    if not rows:
        return []
    table = pd.DataFrame(rows).T
    return ["", f"Quantile coefficients: raw asymmetric-Laplace posterior and the Yang-Wang-He "
            f"(2016) adjusted spread ({100 * prob:g}% central intervals; the raw ones "
            "under-cover, the adjusted ones are calibrated)", _table(table)]


DISCRETE_PIT = "n/a: discrete"  # a discrete model's LOO-PIT cells

# The comparison table's per-observation columns in the terminal (short: the table is wide).
PER_OBS_LABELS = {"cross_entropy_nats_per_obs": "H/obs", "cross_entropy_se": "H_se",
                  "kl_difference_nats_per_obs": "dKL/obs", "kl_difference_se": "dKL_se"}


def _per_obs_strings(table: pd.DataFrame) -> pd.DataFrame:
    """The per-observation columns (nats) of each row printed as the value and its standard
    error to the same decimals (:func:`lossbridge.core.labels.plus_minus`)."""
    table = table.copy()
    for value, se in (("cross_entropy_nats_per_obs", "cross_entropy_se"),
                      ("kl_difference_nats_per_obs", "kl_difference_se")):
        if value not in table or se not in table:
            continue
        pairs = [plus_minus(float(v), float(e)).split(" ± ") if pd.notna(v) and pd.notna(e)
                 else (v, e) for v, e in zip(table[value], table[se], strict=True)]
        table[value] = [p[0] for p in pairs]
        table[se] = [p[1] for p in pairs]
    return table


def _quantile_lines(table: pd.DataFrame) -> list[str]:
    """The models outside the ranking, one table per comparison group (quantile models;
    models of another density kind): settings, loss and its mean, and why not ranked."""
    lines = []
    for (group, other_kind), members in table.groupby(["comparison_group", "other_kind"],
                                                       sort=False):
        shown = members.drop(columns=["comparison_group", "reason", "other_kind"]).rename(
            columns={"loss_at_map": "loss_at_MAP", "mean_loss": "mean_loss (loss/n)"})
        if not other_kind:
            title = ("Quantile models (not ranked: each answers one conditional quantile of y, "
                     "not its distribution; no elpd shown: their density is a working "
                     "likelihood, not a model of y)")
        else:
            title = f"Models not ranked ({group} density): {members['reason'].iloc[0]}"
        lines += ["", title, _table(shown)]
    return lines


def _exact_fit_lines(fits) -> list[str]:
    """How each exact fit was computed (once per exact fit), and which models have none."""
    lines, seen = [], set()
    for r in fits:
        family = r.spec.family
        if r.baseline is None and r.certificate is not None:  # a modelled scale: certified alone
            lines.append(f"  {r.spec.name}: joint MLE certified by "
                         f"{r.certificate.as_dict().get('reference_solver', 'its own checks')}")
        elif r.baseline is None and r.spec.priors != "flat":
            lines.append(f"  {r.spec.name}: no certificate under {r.spec.priors} priors (the "
                         "classical fit is the flat-prior MAP)")
        elif family.exact_solver is None or r.baseline is None:
            lines.append(f"  {r.spec.name}: no exact counterpart (the {family.title} likelihood "
                         "has no exact classical fit to certify its MAP against)")
        elif (r.baseline.method, r.spec.shape, r.baseline.scale) not in seen:
            # one line per exact fit: per solver, shape setting (tau) and fixed scale
            seen.add((r.baseline.method, r.spec.shape, r.baseline.scale))
            lines.append(f"  exact {r.baseline.title or family.exact_name}: {r.baseline.solver}")
            for name, other in r.baseline.related.items():  # shown beside it, not certified
                if other.get("coefficients"):
                    values = ", ".join(f"{term} = {_number(v)}"
                                       for term, v in other["coefficients"].items())
                    lines.append(f"    beside it, {name.replace('_', ' ')}: {values}, "
                                 f"sigma = {_number(other['sigma'])} ({other['note']})")
    return lines


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def truth_lines(truth) -> list[str]:
    """The truth section: exact cross-entropy, entropy and KL per model, beside the estimates."""
    if truth is None:
        return []
    params = ", ".join(f"{k}={format(v, 'g')}" for k, v in truth.law_parameters.items())
    error = "" if truth.entropy_error is None else f", error {truth.entropy_error:.1e}"
    lines = ["", f"Truth: {truth.law}({params}), from {truth.source}",
             f"  entropy H(p*) = {truth.entropy:.6f} nats/obs ({truth.entropy_method}{error}); "
             "at each MAP, exact cross-entropy H(p*, p) and KL = H(p*, p) - H(p*), beside the "
             "fit's estimates of H(p*, p): mean NLL (in-sample, optimistic) and -elpd_loo/n"]
    records = {}
    order = truth.ranked + [r for r in truth.rows if r not in truth.ranked]
    for row in order:
        if row.group == "not comparable":
            continue
        loo = "-" if row.loo is None else plus_minus(row.loo, row.loo_se)
        records[row.model] = {
            "H(p*,p)": "-" if row.cross_entropy is None else f"{row.cross_entropy:.6f}",
            "KL": "-" if row.kl is None else f"{row.kl:.6f}",
            "mean NLL": f"{row.mean_nll:.4f}",
            "-elpd_loo/n": loo,
            "method": _truth_method(row),
            "ranked": ("yes" if row in truth.ranked else "no (KL = ∞)" if row.group == "ranked"
                       else "no (one quantile)"),
        }
    if records:
        lines.append(pd.DataFrame.from_dict(records, orient="index").to_string())
    if truth.closest is not None:
        lines.append(f"  closest to the truth (smallest KL): {truth.closest}")
    notes = dict.fromkeys(f"  {r.model}: {r.note}" for r in truth.rows if r.note)
    lines += list(notes)
    return lines


def _truth_method(row) -> str:
    """How the cross-entropy was computed, with its accuracy."""
    if row.quadrature is not None:  # a closed form, with the quadrature beside it
        return (f"{row.method} (quadrature within "
                f"{abs(row.quadrature - row.cross_entropy):.0e})")
    if row.error is None:
        return row.method
    if row.method.startswith("summation"):
        return row.method
    return f"{row.method} (error est. {row.error:.0e})"


def _learned_shape_caveat(analysis) -> str:
    """What 'MAP = maximum likelihood' leaves out: a learned shape parameter (a Student-t's
    nu, a negative binomial's alpha) is at its posterior mode under its proper prior."""
    learned = {p.name: p.prior for r in analysis.fits for p in r.spec.family.learned_shape}
    if not learned:
        return ""
    parts = ", ".join(f"{name} under {prior}" for name, prior in learned.items())
    return f" given the learned {parts} at its posterior mode"
