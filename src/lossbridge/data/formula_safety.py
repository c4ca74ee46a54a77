"""Formulas are data: vet a formula before formulaic evaluates any part of it.

formulaic evaluates the Python code in a formula (``np.log(x)``, ``I(x + 1)``) with
``eval``, and already does so while *parsing* (to find the variables a transform
needs). A formula in a shared TOML spec or on a command line is data, so
:func:`check_formula` runs first: it splits the formula into tokens with formulaic's
own tokenizer (pure string processing), parses every Python-code token with
:mod:`ast` (never compiled or run here) and accepts only

* column names, bare or backtick-quoted (a quoted name is always a column name,
  never code), and numeric literals;
* the formula operators ``~ + - * / : ** ^`` and ``( )`` (``0``/``1`` switch the
  intercept off/on);
* calls of the allowlisted transforms below, with literal options only.

Everything else is refused with a one-line :class:`InputError` naming the offending
part. The set of column names the formula reads is returned, so the caller can
report unknown columns with its own message before any evaluation.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable

import pandas as pd

from ..core.errors import InputError
from .text_columns import numbers_as_text_problem

#: numpy ufuncs of one argument (elementwise, no ``out=``), callable as ``np.<name>(expr)``.
NUMPY_FUNCTIONS = frozenset({
    "abs", "absolute", "fabs", "sign", "square", "sqrt", "cbrt", "reciprocal",
    "exp", "exp2", "expm1", "log", "log2", "log10", "log1p",
    "sin", "cos", "tan", "arcsin", "arccos", "arctan",
    "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
    "floor", "ceil", "trunc", "rint", "deg2rad", "rad2deg",
})
#: formulaic's bare aliases of numpy functions (``log(x)`` is ``np.log(x)``).
BARE_NUMPY_ALIASES = frozenset({"log", "log2", "log10", "exp", "exp2"})
#: formulaic contrast codings usable as ``C(g, contr.<name>)`` and their literal options.
CONTRASTS: dict[str, dict[str, str]] = {
    "treatment": {"base": "level"},
    "SAS": {"base": "level"},
    "sum": {},
    "helmert": {"reverse": "bool", "scale": "bool"},
    "diff": {"backward": "bool"},
    "poly": {"scores": "numbers"},
}
SPLINE_EXTRAPOLATION = ("raise", "clip", "na", "zero", "extend")

MAX_LENGTH = 20_000       # characters in a formula
MAX_DEPTH = 100           # nesting of Python code (compile() of deep code recurses)
MAX_TERMS = 5_000         # terms the formula operators may expand to (formulaic expands eagerly)
MAX_POWER = 20            # (a + b)**n: formulaic multiplies n copies even of a single term
MAX_EXACT_INT = 2 ** 53   # larger integer constants overflow int64 columns or hang Python's pow
MAX_POLY_DEGREE = 20
MAX_SPLINE_DF = 100
MAX_LIST = 10_000         # items in levels=[...], knots=[...], scores=[...]

ALLOWED = ("column names (`quoted` if they have spaces), numbers, the operators ~ + - * / : ** ^ ( ), "
           "np.log/np.log1p/np.exp/np.sqrt/np.abs/... (numpy elementwise functions), "
           "I(), C(), center(), scale(), standardize(), poly(), bs()")
_OPERATOR_CHARS = set("~+-*/:^")
_NUMBER = re.compile(r"\d+\.?\d*|\.\d+")
_BACKTICK_SPLIT = re.compile(r"(\\\"|\"(?:\\\"|[^\"])*\"|\\'|'(?:\\'|[^'])*'|`)")  # as formulaic splits
_ANSI = re.compile(r"\x1b\[[0-9;]*m|[⧛⧚]")

_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_DESCRIBE: dict[type, str] = {
    ast.Attribute: "attribute access", ast.Subscript: "subscript", ast.Lambda: "lambda",
    ast.ListComp: "comprehension", ast.SetComp: "comprehension", ast.DictComp: "comprehension",
    ast.GeneratorExp: "comprehension", ast.NamedExpr: "assignment expression (:=)",
    ast.Starred: "starred argument", ast.JoinedStr: "f-string", ast.FormattedValue: "f-string",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator", ast.IfExp: "conditional expression",
    ast.List: "list", ast.Tuple: "tuple", ast.Dict: "dict", ast.Set: "set", ast.Slice: "slice",
    ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
}


def check_formula(formula: str, frame: pd.DataFrame | None = None) -> set[str]:
    """Refuse a formula that could run code; return the column names it reads.

    Nothing in ``formula`` is evaluated: it is tokenized by formulaic's tokenizer and
    its Python-code terms are parsed by :func:`ast.parse` only.

    Parameters
    ----------
    formula : str
        The formula as the user gave it.
    frame : DataFrame, optional
        The data. When given, columns used in arithmetic or transforms must be
        numeric (``"a" * 10**9`` repeats text), and columns may not shadow the
        transform names the formula calls.

    Returns
    -------
    set of str
        Names the formula looks up in the data. Names that are not columns are
        returned too: the caller reports them (they are never called, so harmless).

    Raises
    ------
    InputError
        For anything outside the allowed grammar (see module docstring), with the
        offending part named.
    """
    return _Checker(formula, frame).run()


class _Checker:
    def __init__(self, formula: str, frame: pd.DataFrame | None):
        if not isinstance(formula, str):
            raise InputError(f"formula must be a string like 'y ~ x'; got {type(formula).__name__}")
        self.formula = formula
        self.columns = None if frame is None else {str(c): frame[c] for c in frame.columns}
        self.names: set[str] = set()
        self.quoted: dict[str, str] = {}

    # -- messages ---------------------------------------------------------------------------
    def shown(self) -> str:
        text = self.formula if len(self.formula) <= 200 else self.formula[:200] + "..."
        return repr(text)

    def refuse(self, what: str, hint: str = "") -> InputError:
        hint = hint or f"formulas may contain only {ALLOWED}"
        return InputError(f"formula {self.shown()} {what}; {hint}")

    def part(self, node: ast.AST) -> str:
        text = ast.unparse(node)
        for placeholder, name in self.quoted.items():
            text = text.replace(placeholder, f"`{name}`")
        return repr(text if len(text) <= 80 else text[:80] + "...")

    # -- tokens -----------------------------------------------------------------------------
    def run(self) -> set[str]:
        from formulaic.parser.algos.tokenize import tokenize
        from formulaic.parser.types import Token

        if len(self.formula) > MAX_LENGTH:
            raise InputError(f"formula is {len(self.formula)} characters long; the limit is {MAX_LENGTH}")
        try:
            tokens = list(tokenize(self.formula))
        except Exception as exc:  # formulaic raises its own and plain exceptions for bad quoting
            raise InputError(f"formula {self.shown()} does not parse: {_one_line(exc)}") from None
        for token in tokens:
            text, kind = token.token, token.kind
            # formulaic drops the opening '{' of a Python block and the '%' of a custom operator
            opener = self.formula[token.source_start] if token.source_start is not None else ""
            if text == "." or (kind is Token.Kind.NAME and text.strip() == "."):
                raise self.refuse("uses '.' (all other columns), which lossbridge does not support",
                                  "list the columns explicitly, e.g. 'y ~ a + b'")
            if kind is Token.Kind.CONTEXT:
                if text in "[]":
                    raise self.refuse("uses '[...]' (a multi-stage formula), which lossbridge does not "
                                      "support", "use ( ) for grouping")
            elif kind is Token.Kind.OPERATOR:
                self.operator("%" + text + "%" if opener == "%" else text)
            elif kind is Token.Kind.VALUE:
                if not _NUMBER.fullmatch(text):
                    raise self.refuse(f"contains the string literal {text}, which is not a term",
                                      "quote column names with backticks, e.g. `my col`")
            elif kind is Token.Kind.NAME:
                self.names.add(text)
            elif kind is Token.Kind.PYTHON:
                if opener == "{":
                    raise self.refuse(f"contains the Python block {{{text}}}", "write arithmetic as I(...)")
                self.python(text)
        self.check_expansion()
        return self.names

    def operator(self, text: str) -> None:
        if text.startswith("%"):
            raise self.refuse(f"uses the operator {text!r}, which lossbridge does not support")
        if "|" in text:
            raise self.refuse("has several parts separated by '|'; lossbridge fits one response on "
                              "one right-hand side", "remove the '|' and what follows it")
        bad = sorted(set(text) - _OPERATOR_CHARS)
        if bad:
            raise self.refuse(f"uses the unknown operator {bad[0]!r}")

    def check_expansion(self) -> None:
        """Refuse formulas whose operators expand to too many terms (``(a+b+c)**40``, long ``*`` chains)."""
        from formulaic.parser import DefaultFormulaParser
        from formulaic.parser.types import ASTNode, Token

        try:  # safe now: every Python token was vetted above
            root = DefaultFormulaParser().get_ast(self.formula)
        except Exception:  # formulaic's own parse error is reported by the caller's Formula()
            return
        bound: dict[int, int] = {}
        stack = [(root, False)]
        while stack:  # iterative post-order: long formulas nest deeply
            node, done = stack.pop()
            if not isinstance(node, ASTNode):
                bound[id(node)] = 1
                continue
            if not done:
                stack.append((node, True))
                stack.extend((arg, False) for arg in node.args)
                continue
            args = list(node.args)
            sizes = [bound[id(arg)] for arg in args]
            symbol = node.operator.symbol
            if symbol in ("**", "^") and len(args) == 2:
                exponent = args[1]
                power = int(exponent.token) if isinstance(exponent, Token) and exponent.token.isdigit() else 1
                if power > MAX_POWER:
                    raise self.refuse(f"raises terms to the power {power}",
                                      f"use a power of at most {MAX_POWER}")
                if power > 1 and sizes[0] > 1 and power * math.log2(sizes[0]) > math.log2(MAX_TERMS):
                    raise self.refuse(f"raises {sizes[0]} terms to the power {power}, which expands to "
                                      f"more than {MAX_TERMS} terms", "use a smaller power or fewer terms")
                size = sizes[0] ** power
            elif symbol == ":" and len(sizes) == 2:
                size = sizes[0] * sizes[1]
            elif symbol == "*" and len(sizes) == 2:
                size = sizes[0] + sizes[1] + sizes[0] * sizes[1]
            elif symbol == "-":
                size = sizes[0] if len(sizes) == 2 else 0
            else:
                size = sum(sizes)
            if size > MAX_TERMS:
                raise self.refuse(f"expands to more than {MAX_TERMS} terms", "use fewer interactions")
            bound[id(node)] = size

    # -- Python code ------------------------------------------------------------------------
    def python(self, code: str) -> None:
        if "_formulaic_" in code:  # formulaic rewrites such names by plain string replacement
            raise self.refuse(f"contains the reserved name part '_formulaic_' in {code!r}")
        source = self.unquote(code)
        try:
            tree = ast.parse(source, mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            raise self.refuse(f"contains {code!r}, which is not a valid transform call") from None
        body = tree.body
        if not isinstance(body, ast.Call):
            raise self.refuse(f"contains {_DESCRIBE.get(type(body), 'the expression')} {self.part(body)}, "
                              "which is not allowed in formulas")
        self.call(body, top=True, depth=0)

    def unquote(self, code: str) -> str:
        """Replace backtick-quoted names by placeholders, splitting exactly as formulaic does."""
        parts = _BACKTICK_SPLIT.split(code)
        out: list[str] = []
        i = 0
        while i < len(parts):
            if parts[i] == "`":
                try:
                    end = parts.index("`", i + 1)
                except ValueError:
                    raise self.refuse(f"has an unclosed backtick in {code!r}") from None
                name = "".join(parts[i + 1:end])
                placeholder = f"lossbridge_quoted_{len(self.quoted)}_"
                while placeholder in code:
                    placeholder += "_"
                self.quoted[placeholder] = name
                out.append(f" {placeholder} ")
                i = end + 1
            else:
                out.append(parts[i])
                i += 1
        return "".join(out).strip()

    def function_name(self, func: ast.AST) -> str:
        parts: list[str] = []
        node = func
        while isinstance(node, ast.Attribute):
            if "__" in node.attr:
                raise self.refuse(f"uses the double-underscore name {node.attr!r}, which is not allowed")
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise self.refuse(f"calls {self.part(func)}; only the allowed transforms can be called")
        if node.id in self.quoted:
            raise self.refuse(f"calls the quoted name {self.part(func)}; backticks quote column names, "
                              "which cannot be called")
        parts.append(node.id)
        name = ".".join(reversed(parts))
        if "__" in name:
            raise self.refuse(f"uses the double-underscore name {name!r}, which is not allowed")
        return name

    def call(self, node: ast.Call, *, top: bool, depth: int) -> bool:
        """Vet a call; return True if its value is a constant (``I(2)``)."""
        name = self.function_name(node.func)
        root = name.split(".", 1)[0]
        if self.columns is not None and root in self.columns:
            raise self.refuse(f"calls {name}() but the data has a column named {root!r}, which would "
                              "be used instead", f"rename the column {root!r}")
        if root == "numpy" and name.split(".")[-1] in NUMPY_FUNCTIONS and name.count(".") == 1:
            raise self.refuse(f"calls {name}()", f"write np.{name.split('.')[-1]}() instead")
        numpy_function = root == "np" and name.count(".") == 1 and name[3:] in NUMPY_FUNCTIONS
        if numpy_function or name in BARE_NUMPY_ALIASES:
            self.bind(node, name, ["x"], {})
            self.numeric(node.args[0], depth + 1)
            return False
        if name == "I":
            self.bind(node, name, ["x"], {})
            return self.numeric(node.args[0], depth + 1)
        options: dict[str, Callable[[ast.AST, str], None]]
        if name == "center":
            self.bind(node, name, ["x"], {})
        elif name == "scale":
            options = {"center": self.boolean, "scale": self.boolean, "ddof": self.ddof}
            self.bind(node, name, ["x", *options], options)
        elif name == "standardize":
            options = {"center": self.boolean, "rescale": self.boolean, "ddof": self.ddof}
            self.bind(node, name, ["x", *options], options)
        elif name in ("C", "poly", "bs"):
            if not top:
                raise self.refuse(f"uses {name}() inside another expression ({self.part(node)}); it "
                                  "gives several columns and must be a term of its own")
            if name == "C":
                options = {"contrasts": self.contrast, "levels": self.levels, "spans_intercept": self.boolean}
                self.bind(node, name, ["data", "contrasts"], options)
                self.column(node.args[0], name)
                return False
            if name == "poly":
                options = {"degree": self.integer(1, MAX_POLY_DEGREE), "raw": self.boolean}
            else:
                options = {"df": self.integer(1, MAX_SPLINE_DF), "knots": self.numbers,
                           "degree": self.integer(0, 10), "include_intercept": self.boolean,
                           "lower_bound": self.number, "upper_bound": self.number,
                           "extrapolation": self.extrapolation}
            self.bind(node, name, ["x", *options], options)
        elif root in ("np", "numpy"):
            raise self.refuse(f"calls {name}(), which is not an allowed numpy function",
                              f"allowed: {', '.join('np.' + f for f in sorted(NUMPY_FUNCTIONS))}")
        else:
            raise self.refuse(f"calls unknown function {name!r}",
                              "use numpy functions such as np.log, np.sqrt, or formulaic's C(), I(), "
                              "center(), scale(), standardize(), poly(), bs()")
        self.numeric(node.args[0], depth + 1)
        return False

    def bind(self, node: ast.Call, name: str, positional: list[str],
             options: dict[str, Callable[[ast.AST, str], None]]) -> None:
        """Check the arguments of ``name(...)``: one data argument, then literal options."""
        starred = any(isinstance(arg, ast.Starred) for arg in node.args)
        if starred or any(k.arg is None for k in node.keywords):
            raise self.refuse(f"unpacks arguments (* or **) in {self.part(node)}")
        if not node.args:
            raise self.refuse(f"calls {name}() without its data argument")
        if len(node.args) > len(positional):
            raise self.refuse(f"passes {len(node.args)} positional arguments to {name}() in "
                              f"{self.part(node)}; it takes {len(positional)}",
                              "give options by keyword with literal values" if options else
                              f"{name}() takes one expression")
        given = dict(zip(positional[1:], node.args[1:], strict=False))
        for keyword in node.keywords:
            if keyword.arg not in options or keyword.arg in given:
                valid = ", ".join(options) or "none"
                raise self.refuse(f"passes the option {keyword.arg!r} to {name}() in {self.part(node)}",
                                  f"valid options: {valid}")
            given[keyword.arg] = keyword.value
        for key, value in given.items():
            options[key](value, f"{key}= of {name}()")

    def numeric(self, node: ast.AST, depth: int) -> bool:
        """Vet arithmetic on numeric columns and numbers; return True if it is a constant."""
        if depth > MAX_DEPTH:
            raise self.refuse(f"nests Python code more than {MAX_DEPTH} levels deep")
        if isinstance(node, ast.Name):
            self.column(node, None)
            return False
        if isinstance(node, ast.Constant):
            self.literal_number(node)
            return True
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
            constant = self.numeric(node.operand, depth + 1)
            if constant:
                self.fold(node)
            return constant
        if isinstance(node, ast.BinOp) and isinstance(node.op, _BINARY):
            left = self.numeric(node.left, depth + 1)
            right = self.numeric(node.right, depth + 1)
            if left and right:
                self.fold(node)
            return left and right
        if isinstance(node, ast.Call):
            return self.call(node, top=False, depth=depth)
        if isinstance(node, (ast.UnaryOp, ast.BinOp)):
            raise self.refuse(f"uses the operator in {self.part(node)}, which is not arithmetic",
                              "I() and transforms allow + - * / // % ** on numeric columns and numbers")
        what = _DESCRIBE.get(type(node), type(node).__name__.lower())
        raise self.refuse(f"contains {what} {self.part(node)}, which is not allowed in formulas")

    def column(self, node: ast.AST, function: str | None) -> None:
        if not isinstance(node, ast.Name):
            raise self.refuse(f"passes {self.part(node)} to {function}(); it takes a column name",
                              f"write {function}(column)")
        name = self.quoted.get(node.id, node.id)
        if node.id not in self.quoted and "__" in name:
            raise self.refuse(f"uses the double-underscore name {name!r}, which is not allowed")
        self.names.add(name)
        if function is None and self.columns is not None and name in self.columns:
            series = self.columns[name]
            if isinstance(series, pd.Series) and not (pd.api.types.is_numeric_dtype(series)
                                                      or pd.api.types.is_bool_dtype(series)):
                problem = numbers_as_text_problem(series, name, self.formula)
                if problem is not None:  # a typo or separators: name the cells
                    raise InputError(problem)
                raise self.refuse(f"uses the non-numeric column {name!r} (dtype {series.dtype}) in "
                                  "arithmetic or a transform",
                                  f"use it as a category, e.g. C({name}), or convert it to numbers")

    def literal_number(self, node: ast.AST) -> None:
        value = node.value if isinstance(node, ast.Constant) else None
        if isinstance(value, (str, bytes)):
            kind = "string" if isinstance(value, str) else "bytes"
            raise self.refuse(f"contains the {kind} literal {self.part(node)} in code",
                              "strings are allowed only as category levels in C(..., levels=[...]) and "
                              "contr.treatment(base=...); quote column names with backticks")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.refuse(f"contains the constant {self.part(node)}, which is not a number")
        if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
            raise self.refuse(f"contains the integer {value} (more than 2**53)",
                              "write large constants as floats, e.g. 1e20")

    def fold(self, node: ast.AST) -> None:
        """Evaluate a constant sub-expression with guarded number arithmetic (it is numbers only)."""
        try:
            value = _fold(node)
        except ZeroDivisionError:
            raise self.refuse(f"divides by zero in {self.part(node)}") from None
        except (OverflowError, ValueError):
            raise self.refuse(f"has a constant too large to compute in {self.part(node)}",
                              "write large constants as floats, e.g. 1e20") from None
        if isinstance(value, complex):
            raise self.refuse(f"has the complex constant {self.part(node)}")

    # -- literal options --------------------------------------------------------------------
    def boolean(self, node: ast.AST, where: str) -> None:
        if not (isinstance(node, ast.Constant) and isinstance(node.value, bool)):
            raise self.refuse(f"gives {self.part(node)} as {where}", "use True or False")

    def ddof(self, node: ast.AST, where: str) -> None:
        self.integer(0, 10)(node, where)

    def integer(self, low: int, high: int) -> Callable[[ast.AST, str], None]:
        def check(node: ast.AST, where: str) -> None:
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise self.refuse(f"gives {self.part(node)} as {where}",
                                  f"use an integer from {low} to {high}")
        return check

    def number(self, node: ast.AST, where: str) -> None:
        inner = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
        value = inner.value if isinstance(inner, ast.Constant) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.refuse(f"gives {self.part(node)} as {where}", "use a number")
        self.literal_number(inner)

    def numbers(self, node: ast.AST, where: str) -> None:
        self.literal_list(node, where, self.number, "numbers")

    def literal_list(self, node: ast.AST, where: str, check, what: str) -> None:
        """A list or tuple of at most MAX_LIST items, each passing ``check(item, where)``."""
        if not isinstance(node, (ast.List, ast.Tuple)) or len(node.elts) > MAX_LIST:
            raise self.refuse(f"gives {self.part(node)} as {where}",
                              f"use a list of at most {MAX_LIST} {what}")
        for item in node.elts:
            check(item, where)

    def level(self, node: ast.AST, where: str) -> None:
        # A level is compared with data values and becomes part of a term name; it never reaches eval.
        inner = node.operand if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) else node
        value = inner.value if isinstance(inner, ast.Constant) else None
        negated_text = inner is not node and not isinstance(value, (int, float))
        if not isinstance(value, (str, int, float)) or negated_text:
            raise self.refuse(f"gives {self.part(node)} as {where}", "use a string or number literal")

    def levels(self, node: ast.AST, where: str) -> None:
        self.literal_list(node, where, self.level, "string or number literals")

    def extrapolation(self, node: ast.AST, where: str) -> None:
        if not (isinstance(node, ast.Constant) and node.value in SPLINE_EXTRAPOLATION):
            raise self.refuse(f"gives {self.part(node)} as {where}",
                              f"use one of {', '.join(map(repr, SPLINE_EXTRAPOLATION))}")

    def contrast(self, node: ast.AST, where: str) -> None:
        target = node.func if isinstance(node, ast.Call) else node
        if not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                and target.value.id == "contr" and target.attr in CONTRASTS):
            raise self.refuse(f"gives {self.part(node)} as {where}",
                              f"use one of {', '.join('contr.' + c for c in CONTRASTS)}")
        if self.columns is not None and "contr" in self.columns:
            raise self.refuse("uses contr.* but the data has a column named 'contr', which would be "
                              "used instead", "rename the column 'contr'")
        if isinstance(node, ast.Call):
            kinds = CONTRASTS[target.attr]
            check = {"level": self.level, "bool": self.boolean, "numbers": self.numbers}
            options = {key: check[kind] for key, kind in kinds.items()}
            if node.args:
                raise self.refuse(f"passes positional arguments in {self.part(node)}",
                                  f"give its options by keyword: {', '.join(kinds) or 'none'}")
            self.bind(ast.Call(func=node.func, args=[ast.Constant(0)], keywords=node.keywords),
                      f"contr.{target.attr}", ["self"], options)


def _fold(node: ast.AST) -> int | float | complex:
    """Value of a sub-expression of number literals, refusing results Python would take ages over."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Call):  # I(constant)
        return _fold(node.args[0])
    if isinstance(node, ast.UnaryOp):
        value = _fold(node.operand)
        return -value if isinstance(node.op, ast.USub) else +value
    left, right = _fold(node.left), _fold(node.right)
    op = node.op
    if isinstance(op, ast.Pow):
        if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
            if right * math.log2(abs(left)) > 53:
                raise OverflowError
        value = left ** right
    elif isinstance(op, ast.Add):
        value = left + right
    elif isinstance(op, ast.Sub):
        value = left - right
    elif isinstance(op, ast.Mult):
        value = left * right
    elif isinstance(op, ast.Div):
        value = left / right
    elif isinstance(op, ast.FloorDiv):
        value = left // right
    else:
        value = left % right
    if isinstance(value, int) and abs(value) > MAX_EXACT_INT:
        raise OverflowError
    return value


def _one_line(exc: BaseException) -> str:
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    return " ".join(lines) if lines else type(exc).__name__
