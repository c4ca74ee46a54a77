"""Bundled datasets, loadable by name (``lossbridge fit engel``).

The CSV files live in the repository's ``data/`` folder (copied into the wheel as
``lossbridge/_bundled_data``); ``data/README.md`` gives source and licence of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..core.errors import InputError


@dataclass(frozen=True)
class BundledDataset:
    """A dataset shipped with lossbridge and the formula it is usually fitted with.

    ``likelihoods``: the families fitted when the user names none (None: the default
    set, Normal and Laplace); a binary response says ``("bernoulli",)``.
    """

    name: str
    filename: str
    formula: str
    title: str
    likelihoods: tuple[str, ...] | None = None


BUNDLED: dict[str, BundledDataset] = {
    d.name: d
    for d in (
        BundledDataset(
            "engel", "engel.csv", "foodexp ~ income",
            "Engel (1857) household food expenditure, 235 Belgian households",
        ),
        BundledDataset(
            "stackloss", "stackloss.csv", "STACKLOSS ~ AIRFLOW + WATERTEMP + ACIDCONC",
            "Brownlee (1965) stack loss plant data, 21 days",
        ),
        BundledDataset(
            "longley", "longley.csv", "TOTEMP ~ GNPDEFL + GNP + UNEMP + ARMED + POP + YEAR",
            "Longley (1967) macro-economic series, 16 years (ill-conditioned)",
        ),
        BundledDataset(
            "earnings", "earnings.csv", "earn ~ height + male",
            "Gelman & Hill (2006) earnings survey, 1192 adults",
        ),
        BundledDataset(
            "mesquite", "mesquite.csv",
            "np.log(weight) ~ np.log(diam1) + np.log(diam2) + np.log(canopy_height)"
            " + np.log(total_height) + np.log(density) + group",
            "Gelman & Hill (2006) mesquite bush biomass, 46 bushes",
        ),
        BundledDataset(
            "spector", "spector.csv", "GRADE ~ GPA + TUCE + PSI",
            "Spector & Mazzeo (1980) grade improvement after a teaching method (PSI), 32 "
            "students (binary)", likelihoods=("bernoulli",),
        ),
        # A count y with clear overdispersion (variance/mean 8.5): fit it with
        # likelihoods poisson and negbin (models/randhie.toml).
        BundledDataset(
            "randhie", "randhie.csv",
            "mdvis ~ lncoins + idp + lpi + fmde + physlm + disea + hlthg + hlthf + hlthp",
            "RAND Health Insurance Experiment doctor visits (Cameron & Trivedi 2005), "
            "1,000 of 20,190 person-years", likelihoods=("poisson", "negbin"),
        ),
        # A categorical y of seven unordered levels (party identification, 0 = strong
        # Democrat ... 6 = strong Republican): the multinomial logit (models/anes96.toml).
        BundledDataset(
            "anes96", "anes96.csv", "PID ~ logpopul + selfLR + age + educ + income",
            "American National Election Study 1996, party identification of 944 voters "
            "(7 classes)", likelihoods=("categorical",),
        ),
    )
}


def _data_dirs() -> list[Path]:
    package = Path(__file__).resolve().parents[1]  # src/lossbridge, or site-packages/lossbridge
    return [package / "_bundled_data", package.parents[1] / "data"]


def bundled_path(name: str) -> Path:
    """Return the CSV path of bundled dataset ``name``."""
    if name not in BUNDLED:
        raise InputError(
            f"unknown bundled dataset {name!r}; valid names: {', '.join(sorted(BUNDLED))}"
        )
    for folder in _data_dirs():
        path = folder / BUNDLED[name].filename
        if path.is_file():
            return path
    raise InputError(f"bundled dataset {name!r} is missing from this installation; reinstall lossbridge")


def bundled_likelihoods(data) -> list[str] | None:
    """The default likelihoods of bundled dataset ``data`` (a name, not a file of that
    name), or None: the package's default set."""
    if isinstance(data, (str, Path)) and str(data) in BUNDLED and not Path(str(data)).exists():
        chosen = BUNDLED[str(data)].likelihoods
        return None if chosen is None else list(chosen)
    return None


def resolve_formula(data, formula: str | None) -> str:
    """The formula to use: the one given, or a bundled dataset's default."""
    if formula is not None:
        return formula
    if isinstance(data, (str, Path)) and str(data) in BUNDLED and not Path(str(data)).exists():
        return BUNDLED[str(data)].formula
    raise InputError("formula is required for this data (e.g. --formula 'y ~ x1 + x2')")
