"""Published reference values, each with its source.

These are independent of every solver in lossbridge: they come from certified or
published computations and are typed in here as printed.
"""

# NIST Statistical Reference Datasets, Linear Least Squares Regression, "Longley"
# (higher difficulty), certified values computed in 500-digit arithmetic:
# https://www.itl.nist.gov/div898/strd/lls/data/Longley.shtml
LONGLEY_OLS = {
    "Intercept": -3482258.63459582,
    "GNPDEFL": 15.0618722713733,
    "GNP": -0.358191792925910e-01,
    "UNEMP": -2.02022980381683,
    "ARMED": -1.03322686717359,
    "POP": -0.511041056535807e-01,
    "YEAR": 1829.15146461355,
}
LONGLEY_RESIDUAL_SD = 304.854073561965  # sqrt(RSS / (n - k)), n = 16, k = 7
LONGLEY_RSS = 836424.055505915  # NIST "Residual Sum of Squares"

# Median (tau = 0.5) regression of the Engel data, R package quantreg (Koenker),
# `rq(foodexp ~ income, tau = .5, data = engel)`, printed in the quantreg vignette
# and in Koenker (2005), Quantile Regression, Cambridge UP, section 1.3.
ENGEL_LAD = {"Intercept": 81.4822474, "income": 0.5601806}

# Median regression of Brownlee's stack loss data, quantreg
# `rq(stack.loss ~ stack.x, tau = .5)`: quantreg's `rq` help page example output
# (Koenker & d'Orey (1987) algorithm AS 229).
STACKLOSS_LAD = {
    "Intercept": -39.68985507,
    "AIRFLOW": 0.83188406,
    "WATERTEMP": 0.57391304,
    "ACIDCONC": -0.06086957,
}
