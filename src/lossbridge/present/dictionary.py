"""The loss dictionary: for each fitted family, what its loss is as a likelihood.

One entry per bound family (a family with its shape settings: each ``tau`` of a quantile
family is its own entry): its loss (name and symbol), its density with the normalising
constant (``Family.density_formula``), the NLL formula, and per model (scale learned or
fixed) the NLL at the MAP split into constant + loss term with PyMC's own log-likelihood
at the same point and their relative difference (from
:class:`lossbridge.estimation.nll.NllDecomposition`, read here, never recomputed), the
classical fit (``exact_name`` and the solver's own description) and the certificate.
The HTML report's panel and the terminal's short version both read these entries.
"""

from __future__ import annotations

from ..core.labels import settings_text

# What the likelihood is called in the panel, by the family's ``density_kind``: a density of
# the residual r = y - mu, or the probability of each value of a discrete y.
DENSITY_LABELS = {"continuous": ("density", "f(r)"), "discrete": ("probability", "P(y | μ)")}
# The inverse of each known link g as a formula in the linear predictor η, for the line
# saying how the density's mean comes from the coefficients (``Family.link.name``).
INVERSE_LINKS = {"logit": "1 / (1 + e^(−η))", "probit": "Φ(η) (standard Normal CDF)",
                 "cloglog": "1 − exp(−e^η)", "log": "e^η"}
# Links whose inverse is not a mean of y but a vector of class probabilities: the whole line.
VECTOR_LINKS = {"softmax": ("link softmax: class probabilities p_c = e^(η_c) / Σ_j e^(η_j), "
                            "η_c = Xβ_c, one β_c per non-reference level, η_reference = 0")}


def link_line(family, offset: bool = False) -> str | None:
    """``"link logit: mean of y = g⁻¹(η) = 1 / (1 + e^(−η)), η = Xβ"`` for a family with a
    non-identity link (None for the identity: the mean is Xβ itself)."""
    name = family.link.name
    if name == "identity":
        return None
    if name in VECTOR_LINKS:
        return VECTOR_LINKS[name]
    inverse = INVERSE_LINKS.get(name)
    eta = "Xβ + offset" if offset else "Xβ"
    return (f"link {name}: mean of y (the μ or p above) = g⁻¹(η)"
            + (f" = {inverse}" if inverse else "") + f", η = {eta}")


def dictionary_entries(analysis) -> list[dict]:
    """One entry per fitted family with its shape settings, in the order fitted.

    Returns
    -------
    list of dict
        ``{"title", "settings", "loss_name", "loss_symbol", "density", "density_label",
        "density_symbol", "link", "nll_formula",
        "constant_formula", "loss_term_formula", "exact_name", "solver",
        "comparison_group", "offset", "models"}`` (``offset``: the linear predictor with
        the exposure's log, or None); ``models`` holds, per model, ``{"name",
        "scale_mode", "scale_name", "scale_value", "fixed_source", "loss_value",
        "constant", "loss_term", "nll", "pymc_log_likelihood", "relative_difference",
        "tolerance", "matches_pymc", "certified", "certificate"}`` (``certificate``: the
        certificate's explanation, or the note saying why there is none).
    """
    terms = analysis.design.terms
    entries: dict[tuple, dict] = {}
    for r in analysis.fits:
        family, model_id, nll = r.spec.family, r.spec.model_id, r.nll
        entry = entries.setdefault((model_id.likelihood, model_id.shape), {
            "title": family.title,
            "settings": settings_text(model_id.shape),
            "loss_name": family.loss_name,
            "loss_symbol": family.loss_symbol,
            "density": family.density_formula or None,
            # a density of the residual, or a probability of each value of y (density_kind)
            "density_label": DENSITY_LABELS[family.density_kind][0],
            "density_symbol": DENSITY_LABELS[family.density_kind][1],
            # how the mean in the density comes from the coefficients (non-identity links)
            "link": link_line(family, getattr(analysis.design, "offset", None) is not None),
            "nll_formula": f"{nll.constant_formula} + {nll.loss_term_formula}",
            "constant_formula": nll.constant_formula,
            "loss_term_formula": nll.loss_term_formula,
            # a penalised fit's own name (ElasticNet(alpha=...)) where it is not the family's
            "exact_name": (r.baseline.title if r.baseline is not None and r.baseline.title
                           else family.exact_name),
            "solver": None,
            "comparison_group": family.comparison_group,
            # the NLL's constant is 0: the loss itself is the NLL (a cross-entropy)
            "loss_is_nll": nll.constant_formula.strip() == "0",
            # --exposure: the known term of the linear predictor, said where the model is
            "offset": offset_statement(analysis.options.get("exposure"), family),
            "models": [],
        })
        if r.baseline is not None and entry["solver"] is None:
            entry["solver"] = r.baseline.solver
        certificate = (r.certificate.explanation if r.certificate is not None
                       else r.as_dict(terms)["certificate_note"])
        entry["models"].append({
            "name": r.spec.name,
            "scale_mode": r.spec.scale,
            "scale_name": family.scale_name,
            "scale_value": nll.scale,
            "fixed_source": r.spec.fixed_scale_source,
            "loss_value": nll.loss,
            "constant": nll.constant,
            "loss_term": nll.loss_term,
            "nll": nll.nll,
            "pymc_log_likelihood": -nll.pymc_nll,
            "relative_difference": nll.relative_difference,
            "tolerance": nll.tolerance,
            "matches_pymc": nll.matches_pymc,
            "certified": r.certified,
            "certificate": certificate,
            # the mean loss per row: the empirical cross-entropy of a loss that is the NLL
            "loss_per_row": nll.loss / analysis.design.n,
        })
    return list(entries.values())


def identity_line(entry: dict, model: dict) -> str | None:
    """``"multiclass cross-entropy (log loss) = Categorical NLL: CE = 1461.92 nats = NLL
    1461.92 (1.54864 nats per row)"`` for a family whose NLL constant is 0, else None."""
    if not entry["loss_is_nll"]:
        return None
    return (f"{entry['loss_name']} = {entry['title']} NLL: {entry['loss_symbol']} = "
            f"{model['loss_value']:.6g} nats = NLL {model['nll']:.6g} "
            f"({model['loss_per_row']:.6g} nats per row)")


def offset_statement(exposure: str | None, family=None) -> str | None:
    """The model of the mean with an exposure column as offset (``log μ = Xβ + log(t)``,
    the link's own name, ``g`` when the families differ), or None without ``--exposure``."""
    if exposure is None:
        return None
    link = getattr(getattr(family, "link", None), "name", "g")
    return f"{link} μ = Xβ + log({exposure}): exposure {exposure} as an offset"


def run_offset_statement(analysis) -> str | None:
    """:func:`offset_statement` for the whole run (its families' one link)."""
    families = {r.spec.family.link.name: r.spec.family for r in analysis.fits}
    family = next(iter(families.values())) if len(families) == 1 else None
    return offset_statement(analysis.options.get("exposure"), family)


def dictionary_lines(analysis) -> list[str]:
    """The terminal's short version: per family its loss, density, classical fit and the
    certificate of each model (the NLL numbers are in the NLL table above it)."""
    lines = []
    for e in dictionary_entries(analysis):
        title = e["title"] + (f" ({e['settings']})" if e["settings"] else "")
        density = e["density"] or "not declared by the family"
        # the solver's description is printed once under "How each MAP was computed"
        classical = e["exact_name"] if e["exact_name"] and e["solver"] else \
            "none (no exact classical fit)"
        certified = ", ".join(
            f"{m['name']} {_yes_no(m['certified'])}" for m in e["models"])
        lines += [f"  {title}: {e['loss_name']} ({e['loss_symbol']})",
                  f"    {e['density_label']} {e['density_symbol']} = {density}",
                  *([f"    mean: {e['offset']}"] if e["offset"] else []),
                  *([f"    {e['link']}"] if e["link"] else []),
                  f"    NLL = {e['nll_formula']}",
                  *(f"    {model['name']}: {line}" for model in e["models"]
                    if (line := identity_line(e, model))),
                  f"    classical fit: {classical}; certified: {certified}"]
    return lines


def _yes_no(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")
