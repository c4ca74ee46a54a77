"""The results of :func:`lossbridge.fit`: one :class:`FitResult` per model, gathered in an
:class:`Analysis` that holds plain data. Its tables are pandas DataFrames and
:meth:`Analysis.to_dict` gives the JSON contract (docs/design.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..core.errors import InputError
from ..core.labels import scale_label, shape_label
from ..data.design import Design
from ..estimation.certificate import Certificate, certificate_note
from ..estimation.exact import ExactFit
from ..estimation.map import MapEstimate
from ..estimation.nll import NllDecomposition
from ..models.heteroscedastic import gamma_labels
from ..models.spec import ModelSpec
from ..posterior.comparison import Comparison, candidates_from_fits
from ..posterior.misfit import MisfitAssessment
from ..posterior.summary import PosteriorResult
from ..posterior.truth import TruthTable
from ..posterior.verdict import Verdict, build_verdict


@dataclass(eq=False)
class FitResult:
    """One model's MAP, exact baseline, certificate, NLL decomposition and posterior.

    ``certificate`` is None under weak priors (the MAP is then a penalised fit, not the
    loss minimiser) and for a family without an exact fit (``baseline`` None: "no exact
    counterpart"); ``posterior`` is None when sampling was not requested.
    """

    spec: ModelSpec
    map: MapEstimate
    baseline: ExactFit | None
    certificate: Certificate | None
    nll: NllDecomposition
    posterior: PosteriorResult | None = None

    @property
    def certified(self) -> bool | None:
        return None if self.certificate is None else self.certificate.certified

    def as_dict(self, terms: Sequence[str], scale_terms: Sequence[str] = ()) -> dict:
        """The JSON of one model. Coefficients are keyed by term (``map``, ``posterior``);
        the scale has keys of its own (``map_scale``, ``posterior_scale``), since a data
        column may be called ``sigma`` or ``b``."""
        family = self.spec.family
        map_values = dict(zip(terms, map(float, self.map.coefficients), strict=True))
        posterior = posterior_scale = posterior_shape = None
        if self.posterior is not None:
            posterior = self.posterior.summary_dict()
            scale_stats = posterior.pop(scale_label(family.scale_name), None)
            if scale_stats is not None:
                posterior_scale = {"name": family.scale_name, **scale_stats}
            posterior_shape = {p.name: posterior.pop(shape_label(p.name))
                               for p in family.learned_shape if shape_label(p.name) in posterior}
        fixed = None
        if self.spec.scale == "fixed":
            fixed = {"value": self.spec.fixed_scale, "source": self.spec.fixed_scale_source,
                     "plug_in": self.spec.fixed_scale_is_plug_in}
        return {
            "model": self.spec.name,
            "likelihood": self.spec.likelihood,
            # The family and its shape settings ({"name": "quantile", "tau": 0.9}).
            "family": {"name": self.spec.likelihood, **dict(self.spec.shape)},
            "scale": self.spec.scale,
            "priors": self.spec.priors,
            # A ridge/lasso/elastic-net prior ({"kind", "alpha", "l1_ratio"}), or None.
            "penalty": None if self.spec.penalty is None else self.spec.penalty.as_dict(),
            "loss": family.loss_name,
            "fixed_scale": fixed,
            "map": map_values,
            # None for a family without a scale (Bernoulli, Poisson).
            "map_scale": ({"name": family.scale_name, "value": float(self.map.scale)}
                          if self.spec.has_scale else None),
            # A modelled scale: log scale_i = Z_i gamma (map_scale is then the geometric mean).
            "scale_formula": self.spec.scale_formula,
            "map_gamma": None if self.map.gamma is None else dict(zip(
                gamma_labels(family.scale_name, scale_terms or range(len(self.map.gamma))),
                map(float, self.map.gamma), strict=True)),
            # Learned shape parameters ({"nu": ...}) at the MAP, and their priors (proper).
            "map_shape": {p.name: {"value": float(self.map.shape[p.name]), "prior": p.prior}
                          for p in family.learned_shape} or None,
            "map_method": self.map.method,
            "baseline": None if self.baseline is None else {
                "method": self.baseline.method,
                "solver": self.baseline.solver,
                "coefficients": dict(
                    zip(terms, map(float, self.baseline.coefficients), strict=True)
                ),
                "loss": self.baseline.loss,
                "scale_mle": self.baseline.scale_mle,
                "unique": self.baseline.unique,
                "fixed_scale": self.baseline.scale,  # the scale a scale-dependent fit is at
                "kkt": (self.baseline.kkt.as_dict() if hasattr(self.baseline.kkt, "as_dict")
                        else self.baseline.kkt),
                # other classical fits shown beside it (Huber: the concomitant-scale fit)
                "related_fits": dict(self.baseline.related),
            },
            "certificate": None if self.certificate is None else self.certificate.as_dict(),
            "certificate_note": None if self.certificate is not None else certificate_note(
                self.spec, self.baseline),
            "nll": self.nll.as_dict(),
            "posterior": posterior,
            "posterior_scale": posterior_scale,
            "posterior_shape": posterior_shape,
            "diagnostics": None if self.posterior is None else self.posterior.diagnostics_dict(),
            "loo": None if self.posterior is None else self.posterior.loo_dict(),
            "ppc": None if self.posterior is None else self.posterior.ppc_dict(),
            "oracle": None if self.posterior is None else self.posterior.oracle_dict(),
            # Quantile families: the Yang-Wang-He adjusted spread beside the raw one.
            "posterior_adjusted": None if self.posterior is None or self.posterior.adjusted is None
            else self.posterior.adjusted.as_dict(),
        }


@dataclass(eq=False)
class Analysis:
    """Results of :func:`fit`: data description, one :class:`FitResult` per model, tables.

    Attributes
    ----------
    design : Design
    fits : list of FitResult
    options : dict
        The options the analysis ran with (echoed in JSON and reports).
    warnings : list of dict
        Named warnings: ``{"code", "model", "message"}``.
    timings : dict
        Seconds per stage.
    """

    design: Design
    fits: list[FitResult]
    options: dict
    warnings: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    started_at: str = ""
    comparison: Comparison | None = None
    misfit: MisfitAssessment | None = None
    verdict: Verdict | None = None
    # The exact cross-entropy / KL table against the law that made the data (--truth).
    truth: TruthTable | None = None

    def __post_init__(self) -> None:
        if self.verdict is None:  # one verdict, computed once (fit passes the comparison's)
            self.verdict = (self.comparison.verdict if self.comparison is not None else
                            build_verdict(candidates_from_fits(self.fits, self.design.y_hash,
                                                               self.misfit, n=self.design.n),
                                          misfit=self.misfit, warning_count=len(self.warnings)))

    @property
    def models(self) -> list[str]:
        return [f.spec.name for f in self.fits]

    @property
    def all_certified(self) -> bool | None:
        """True when every MAP is certified; None when no certificate applies (weak priors)."""
        states = [f.certified for f in self.fits if f.certified is not None]
        return all(states) if states else None

    @property
    def sampled(self) -> bool:
        return all(f.posterior is not None for f in self.fits)

    def fit_for(self, model: str) -> FitResult:
        for result in self.fits:
            if result.spec.name == model:
                return result
        raise KeyError(f"no model {model!r}; models: {', '.join(self.models)}")

    # ------------------------------------------------------------------ tables
    def coefficients(self) -> pd.DataFrame:
        """MAP of every model beside the exact fits: rows are the terms, then the scales.

        A scale's row is labelled ``scale: sigma`` or ``scale: b`` (:func:`scale_label`),
        never a bare name a data column could also have.
        """
        terms = list(self.design.terms)
        columns: dict[str, pd.Series] = {}
        baselines_done: set[tuple] = set()
        for result in self.fits:
            base = result.baseline
            # One exact fit per solver, shape setting (a quantile regression per tau) and
            # fixed scale (a Huber M-estimate at the user's sigma).
            key = (base.method, result.spec.shape, base.scale) if base is not None else None
            if base is not None and key not in baselines_done:
                baselines_done.add(key)
                settings = ", ".join([f"{k}={v if isinstance(v, str) else format(v, 'g')}"
                                      for k, v in result.spec.shape if v is not None]
                                     + ([f"at {result.spec.family.scale_name}="
                                         f"{format(base.scale, '.6g')}"]
                                        if base.scale is not None else []))
                name = base.title or result.spec.family.exact_name
                columns[name + (f" ({settings})" if settings else "")] = pd.Series(
                    base.coefficients, index=terms)
            family = result.spec.family
            values = pd.Series(result.map.coefficients, index=terms)
            if result.spec.has_scale:
                values[scale_label(family.scale_name)] = result.map.scale
            for name, value in result.map.shape.items():  # a learned nu, beside the scale
                values[shape_label(name)] = value
            columns[result.spec.name] = values
        table = pd.DataFrame(columns)
        scales = dict.fromkeys(scale_label(r.spec.family.scale_name) for r in self.fits
                               if r.spec.has_scale)
        shapes = dict.fromkeys(shape_label(n) for r in self.fits for n in r.map.shape)
        return table.loc[terms + list(scales) + list(shapes)]

    def differences(self) -> pd.DataFrame:
        """Relative difference of each model's MAP coefficient from its exact fit."""
        from ..estimation.certificate import relative_coefficient_differences

        data = {
            r.spec.name: relative_coefficient_differences(
                r.map.coefficients, r.baseline.coefficients, self.design
            )
            for r in self.fits if r.baseline is not None
        }
        return pd.DataFrame(data, index=list(self.design.terms))

    def certificates(self) -> pd.DataFrame:
        """One row per model: losses, gaps, coefficient and scale checks, certified."""
        rows = {}
        for r in self.fits:
            c = r.certificate
            if c is None:
                continue
            rows[r.spec.name] = {
                "loss": c.loss_name,
                "loss_map": c.loss_map,
                "loss_exact": c.loss_exact,
                "loss_rel_gap": c.loss_relative_gap,
                "max_rel_coef_diff": c.max_relative_coefficient_difference,
                "scale": c.scale_name if r.spec.has_scale else "none",  # a scale-less family
                "scale_map": c.scale_map if r.spec.has_scale else None,
                "scale_rel_diff": c.scale_relative_difference,
                "lp_dual_gap": None if c.dual is None else c.dual["relative_gap"],
                "unique": c.unique,
                "certified": c.certified,
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def nll_table(self) -> pd.DataFrame:
        """NLL at the MAP = constant + scaled loss, beside PyMC's own value."""
        rows = {}
        for r in self.fits:
            d = r.nll
            rows[r.spec.name] = {
                "loss": d.loss_name,
                "loss_value": d.loss,
                "scale": "none" if d.scale_name is None else f"{d.scale_name} = {d.scale:.6g}",
                "constant": d.constant,
                "constant_formula": d.constant_formula,
                "loss_term": d.loss_term,
                "loss_term_formula": d.loss_term_formula,
                "nll": d.nll,
                "pymc_nll": d.pymc_nll,
                "rel_diff": d.relative_difference,
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def posterior_summary(self, model: str | None = None) -> pd.DataFrame:
        """ArviZ summary (mean, sd, HDI, MCSE, ESS, R-hat) of one model, or all stacked."""
        sampled = [r for r in self.fits if r.posterior is not None]
        if not sampled:
            raise InputError("no posterior: the analysis ran without sampling (--no-sample)")
        if model is not None:
            result = self.fit_for(model)
            if result.posterior is None:
                raise InputError(f"model {model!r} was not sampled")
            return result.posterior.summary
        return pd.concat({r.spec.name: r.posterior.summary for r in sampled}, names=["model", "parameter"])

    def oracle_table(self) -> pd.DataFrame:
        """Sampled versus exact posterior (Normal likelihood, flat priors), per parameter."""
        frames = {
            r.spec.name: pd.DataFrame(r.posterior.oracle_dict()["parameters"]).T
            for r in self.fits
            if r.posterior is not None and r.posterior.oracle is not None
        }
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, names=["model", "parameter"])

    def loo_results(self) -> dict[str, dict]:
        """``{"y_hash", "loo"}`` per sampled model, ``loo`` its
        :class:`~lossbridge.posterior.loo.LooResult`."""
        return {r.spec.name: {"y_hash": self.design.y_hash, "loo": r.posterior.loo}
                for r in self.fits if r.posterior is not None}

    def save(self, directory: str | Path) -> Path:
        """Write one netCDF per model and a manifest into a new folder; see :func:`lossbridge.load`."""
        from .persistence import save_analysis

        return save_analysis(self, directory)

    def to_html(self, path: str | Path, command: str | None = None) -> Path:
        """Write the self-contained HTML report to ``path`` (atomically)."""
        from ..present.report import write_report

        return write_report(self, path, command)

    def _repr_html_(self) -> str:
        from ..present.report import render_html

        return render_html(self, fragment=True)

    def truth_frame(self) -> pd.DataFrame:
        """The truth table (nats per observation), one row per model; empty without a truth."""
        if self.truth is None:
            return pd.DataFrame()
        frame = pd.DataFrame.from_records([r.as_dict() for r in self.truth.rows], index="model")
        return frame

    def comparison_table(self) -> pd.DataFrame:
        """The comparison table: loss, likelihood, classical counterpart, certified, then
        ``az.compare``'s columns with Pareto k counts (needs at least two sampled models);
        quantile models are in ``comparison.quantile_table``, never ranked."""
        if self.comparison is None:
            raise InputError("no comparison: it needs at least two sampled models")
        return self.comparison.table

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """The JSON contract (see README): data, options, fits, comparison, warnings, timing.

        Everything except ``timing`` depends only on the data, the options and the seed.
        """
        terms = list(self.design.terms)
        return {
            "verdict": self.verdict.as_dict(),
            "data": self.design.summary(),
            "options": dict(self.options),
            "all_certified": self.all_certified,
            "fits": [r.as_dict(terms, self.design.scale_terms) for r in self.fits],
            "comparison": None if self.comparison is None else self.comparison.as_records(),
            # every model outside the ranking (quantile models, another density kind), why
            "comparison_not_ranked_models": None if self.comparison is None
            else self.comparison.quantile_records(every=True),
            "comparison_summary": None if self.comparison is None else self.comparison.sentences,
            # models of another comparison group (quantile models): never ranked
            "comparison_quantile_models": None if self.comparison is None
            else self.comparison.quantile_records(),
            # per model: exact H(p*, p_theta_hat), H(p*), KL, mean NLL, -elpd_loo/n (--truth)
            "truth": None if self.truth is None else self.truth.as_dict(),
            "warnings": list(self.warnings),
            "timing": {"started_at": self.started_at, "seconds": dict(self.timings)},
        }

    def summary(self) -> str:
        """Readable tables, as the CLI prints them."""
        from ..present.text import format_analysis

        return format_analysis(self)

    def __repr__(self) -> str:
        status = "all certified" if self.all_certified else "NOT all certified"
        return (
            f"<Analysis {self.design.formula!r} on {self.design.source}: n={self.design.n}, "
            f"k={self.design.k}{self._classes_text()}, models {', '.join(self.models)}; "
            f"{status}>"
        )

    def _classes_text(self) -> str:
        """``", 7 classes (reference '0')"`` for a categorical response, else ``""``."""
        classes = self.design.classes
        return "" if classes is None else (
            f", {len(classes)} classes (reference {classes[0]!r})"
        )
