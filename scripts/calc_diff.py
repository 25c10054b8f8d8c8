#!/usr/bin/env python3
"""Differential check: coursetasks-calc (Rust) against openedx-calc 4.0.3 (Python).

Generates random expressions from openedx-calc's grammar (plus deliberately malformed ones),
evaluates each with the Python package and with the Rust evaluator (the `calc_batch` example),
and compares error classes, UndefinedVariable/UnmatchedParenthesis messages, result types and
values. Prints a summary line and exits non-zero on any mismatch.

Requires `pip install openedx-calc==4.0.3` (this script installs nothing).

    python3 scripts/calc_diff.py --count 20000 --seed 7
"""

import argparse
import json
import math
import random
import subprocess
import sys
import warnings
from pathlib import Path

try:
    import numpy
    from calc import UndefinedVariable, UnmatchedParenthesis, evaluator
    from pyparsing import ParseException
except ImportError as exc:  # pragma: no cover - environment problem
    sys.exit(
        f"calc_diff.py: cannot import openedx-calc ({exc}).\n"
        "Install the reference evaluator first: pip install openedx-calc==4.0.3"
    )

REPO_ROOT = Path(__file__).resolve().parent.parent
REL_TOL = 1e-9
# The Rust evaluator refuses exact integers beyond this limit (Python would compute for
# minutes or exhaust memory); such cases are not sent to Python.
RUST_LIMIT_MARKER = "coursetasks evaluator limit"

FUNCTIONS = [
    "sin", "cos", "tan", "sec", "csc", "cot", "sqrt", "log10", "log2", "ln", "exp",
    "arccos", "arcsin", "arctan", "arcsec", "arccsc", "arccot", "abs", "fact", "factorial",
    "sinh", "cosh", "tanh", "sech", "csch", "coth", "arcsinh", "arccosh", "arctanh",
    "arcsech", "arccsch", "arccoth",
]
CONSTANTS = ["pi", "e", "i", "j", "PI", "E", "Pi", "J", "I"]
UNDEFINED = ["q", "foo", "Zeta", "w2", "k_1", "theta'"]
TENSORS = ["T_{ij}", "T_{ij}^{12}", "U^{a}", "T_{ij}^{12}''", "x_{1}", "R^{1}'"]
JUNK = list("[]{}!@#$&=,;.|'_\"?~`") + ["**", "^^", "||||", "|", "x y", "2x", "3(4)", "sin 3",
                                       "\u03c0", "\u00d7", "\u00a0", "\u2212", "\x0b", "\x1c"]


class Gen:
    """Random expression generator following openedx-calc's grammar."""

    def __init__(self, rng, var_names):
        self.rng = rng
        self.var_names = var_names

    def ws(self):
        r = self.rng.random()
        if r < 0.85:
            return ""
        return self.rng.choice([" ", "  ", "\t", " \n"])

    def digits(self, n):
        first = self.rng.choice("123456789")
        return first + "".join(self.rng.choice("0123456789") for _ in range(n - 1))

    def number(self, allow_sign=True):
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            body = str(rng.randint(0, 12))
        elif r < 0.45:
            body = str(rng.randint(13, 10**6))
        elif r < 0.50:
            body = self.digits(rng.randint(19, 60))  # beyond int64
        elif r < 0.53:
            body = "0" + str(rng.randint(0, 99))  # leading zero
        elif r < 0.63:
            body = f"{rng.randint(0, 99)}.{rng.randint(0, 999)}"
        elif r < 0.68:
            body = f".{rng.randint(0, 999)}"
        elif r < 0.72:
            body = f"{rng.randint(0, 99)}."
        elif r < 0.86:
            mant = rng.choice([str(rng.randint(1, 9)), f"{rng.randint(1, 9)}.{rng.randint(0, 99)}", "5.", ".5"])
            exp_sign = rng.choice(["", "+", "-"])
            exp = str(rng.choice([0, 1, 1, 2, 2, 3, 5, 10, 20, 100, 300, 308, 309, 320, 400]))
            e = rng.choice(["e", "E"])
            sep = self.ws() if rng.random() < 0.2 else ""
            body = f"{mant}{sep}{e}{exp_sign}{exp}"
        else:
            body = f"{rng.randint(0, 200)}{self.ws()}%"
        if allow_sign and rng.random() < 0.2:
            body = rng.choice(["-", "+"]) + self.ws() + body
        return body

    def variable(self):
        rng = self.rng
        r = rng.random()
        if r < 0.6 and self.var_names:
            name = rng.choice(self.var_names)
            if rng.random() < 0.1:
                name = name.swapcase()
            return name
        if r < 0.96:
            return rng.choice(CONSTANTS[:4] if rng.random() < 0.8 else CONSTANTS)
        if r < 0.98:
            return rng.choice(TENSORS)
        return rng.choice(UNDEFINED)

    def atom(self, depth):
        rng = self.rng
        r = rng.random()
        if depth <= 0 or r < 0.35:
            return self.number() if depth <= 0 and rng.random() < 0.6 or r < 0.35 else self.variable()
        if r < 0.45:
            return self.variable()
        if r < 0.55:
            # numpy.int64 values come only from abs() of an int: make sure they are common.
            inner = self.number() if rng.random() < 0.5 else str(rng.choice([0, 1, 2, 3, 7, 40, 63, 10**18, 2**62]))
            return f"abs({inner})"
        if r < 0.85:
            name = rng.choice(FUNCTIONS)
            if rng.random() < 0.1:
                name = name.upper() if rng.random() < 0.5 else name.capitalize()
            if rng.random() < 0.03:
                name = rng.choice(["foo", "f'", "x", "R1", "g_2"])
            return f"{name}{self.ws()}({self.sum(depth - 1)})"
        return f"({self.sum(depth - 1)})"

    def power(self, depth):
        n = 1 if self.rng.random() < 0.75 else self.rng.randint(2, 3)
        parts = [self.atom(depth)]
        for _ in range(n - 1):
            parts.append(self.atom(depth - 1) if self.rng.random() < 0.5 else self.number())
        return (self.ws() + "^" + self.ws()).join(parts)

    def parallel(self, depth):
        n = 1 if self.rng.random() < 0.85 else self.rng.randint(2, 3)
        return (self.ws() + "||" + self.ws()).join(self.power(depth) for _ in range(n))

    def product(self, depth):
        n = self.rng.choice([1, 1, 2, 2, 3])
        out = self.parallel(depth)
        for _ in range(n - 1):
            out += self.ws() + self.rng.choice("*/") + self.ws() + self.parallel(depth)
        return out

    def sum(self, depth):
        rng = self.rng
        out = ""
        if rng.random() < 0.2:
            out = rng.choice("+-") + self.ws()
        out += self.product(depth)
        for _ in range(rng.choice([0, 0, 1, 1, 2])):
            out += self.ws() + rng.choice("+-") + self.ws() + self.product(depth)
        return self.ws() + out + self.ws()

    def mutate(self, expr):
        """Makes a (probably) malformed variant of a well-formed expression."""
        rng = self.rng
        kind = rng.randrange(7)
        pos = rng.randint(0, len(expr))
        if kind == 0:
            return expr[:pos] + rng.choice("()") + expr[pos:]
        if kind == 1 and "(" in expr:
            idx = [k for k, c in enumerate(expr) if c in "()"]
            k = rng.choice(idx)
            return expr[:k] + expr[k + 1:]
        if kind == 2:
            return expr[:pos] + rng.choice(JUNK) + expr[pos:]
        if kind == 3:
            return expr[:pos]
        if kind == 4:
            return expr[:pos] + rng.choice(["*-x", "^-(2)", "*-pi", "--", "+-+", "2*-3", "-", "%"]) + expr[pos:]
        if kind == 5:
            return expr + rng.choice(["'", "%", " e", "e5", "!", "(1)", " 2"])
        return expr.replace("*", "", 1)

    def expression(self):
        rng = self.rng
        r = rng.random()
        if r < 0.03:
            return rng.choice(["", " ", "\t", "\x0c", "\x1c", " \n "])
        expr = self.sum(rng.randint(0, 3))
        if r < 0.25:
            expr = self.mutate(expr)
        return expr


# Hand-picked cases from the reference documentation and edge cases found while building the
# evaluator; every run checks them before the random ones.
CURATED = [
    "2*3||6", "1+2*3||6", "2^3^2", "-2^2", "(-2)^2", "2*-3", "2^-2", "5--3", "--2", "2*-x",
    "-(2)", "2x", "3(4)", "x y", "sin 3", "sin (3)", "70%", "(5)%", "x%", "5k", "3m", "1e3",
    "1 e 3", "- 3", "5 %", "1e3%", "-007", ".5", "5.", "1.5E-2", "PI", "Sin(0)", "J", "E",
    "x^{2}", "2^{3}", "T_{ij}^{12}''", "x'", "fact(10/2)", "fact(2+3)", "fact(5.0)", "fact(-1)",
    "fact(i)", "fact(sqrt(-1))", "fact(sin(1))", "fact(abs(-3))", "fact(0)", "fact(30)",
    "2^100", "10^400", "10.0^400", "10^400/10^399", "10^400/3", "3/10^400", "10^400*1.0",
    "(10^400)^-1", "2^(0-10^400)", "0^-1", "0.0^-1", "(0-8)^(1/3)", "(-8)^(1/3)", "1/0", "1/0.0",
    "0/0", "i/0", "arccsch(0)", "csc(0)", "coth(0)", "ln(0)", "1/sin(0)", "0||1", "1||-1",
    "1||2", "sin(0)||1", "abs(-3)||2", "abs(0)||2", "i||2", "sqrt(-4)", "ln(-1)", "log10(-1)",
    "log2(-8)", "arcsin(2)", "arccos(2)", "arccos(-2)", "arctanh(2)", "arctanh(1)", "arccosh(0)",
    "arcsec(0.5)", "arccot(-1)", "arccot(0)", "arccot(i)", "arccot(-i)", "abs(-3)", "abs(-i)",
    "abs(0-2^63)", "abs(10^400)", "abs(0-2^63-1)", "abs(-3)+10^30", "abs(-3)*2^62*4", "abs(-3)/0",
    "abs(-3)^-1", "abs(3)^0.5", "abs(-3)^abs(-40)", "2^abs(-3)", "sin(1)^i", "i+sin(1)",
    "sin(1)+i", "i/sin(0)", "sin(0)/i", "i^2", "(1+i)^0.5", "sqrt(-4)^2", "sqrt(-4)^2.5",
    "exp(1000)", "exp(1000)*i", "1e400*i", "0*i", "i^(1e308*10)", "(0.5*i)^(1e308*10)",
    "(1e300*i)^-2", "(1e-300*i)^-2", "(1e200*i)^2", "(1+i)^200", "(2*i)^-101", "10.0^-320",
    "0.9^7000", "sin(2^63)", "sin(2^64)", "sqrt(2^64)", "sqrt(-2^64)", "sqrt(0-10^400)",
    "ln(2^64)", "arcsin(2^64)", "arcsin(10^400)", "arccot(2^64)", "arcsec(2^64)", "sec(2^64)",
    "1" * 4301, "1" * 4300 + "/3", "(" * 30 + "1" + ")" * 30, "sin(" * 30 + "1" + ")" * 30,
    "", "   ", "\x0c", "\x1c", "((1)", "(1))", ")(", "[1]", "{1}", "1 2", "1..2", "..5", "2e",
    "2ex", "2e-x", "x '", "x_1_{2}", "T_{ij}(3)", "foo(2)", "x(3)", "R1(R3 + 1)", "sinh(1000)",
    "cosh(-1000)", "i^sin(1)", "i*sin(1)", "i-sin(1)", "sin(1)^i", "sqrt(-1)^sin(1)",
    "abs(-3)/10^30", "abs(-2)*1.5", "1.5^abs(-2)", "i^abs(-2)", "abs(-2)^i", "tanh(1000)", "sech(1000)", "csch(1000)", "tan(pi/2)", "cot(0)", "sec(pi/2)",
]


def curated_cases(rng):
    cases = []
    for expr in CURATED:
        for case_sensitive in (False, True):
            cases.append({"expr": expr, "py_vars": {"x": 2.5, "R1": 1.0, "E": 3, "T_{ij}": 2},
                          "case_sensitive": case_sensitive})
    return cases


def random_float(rng):
    r = rng.random()
    if r < 0.7:
        return round(rng.uniform(-10, 10), rng.randint(0, 6))
    if r < 0.8:
        return rng.choice([0.0, -0.0, 1.0, -1.0, 0.5, 2.0])
    if r < 0.9:
        return rng.uniform(-1, 1) * 10 ** rng.randint(-320, 308)
    return rng.choice([float("inf"), float("-inf"), float("nan"), 1e308])


def random_vars(rng):
    pool = ["x", "y", "z", "t", "R1", "R_2", "V0", "x'", "E", "X", "f", "T_{ij}", "U^{a}", "sin"]
    names = rng.sample(pool, rng.randint(0, 5))
    variables = {}
    for name in names:
        r = rng.random()
        if r < 0.5:
            variables[name] = random_float(rng)
        elif r < 0.8:
            variables[name] = rng.choice([0, 1, -1, 2, 3, 7, -5, 10**20, 2**63])
        else:
            variables[name] = complex(random_float(rng), random_float(rng))
    return variables


def encode_float(x):
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def encode_var(value):
    # Floats travel as repr strings: exact, and parsed with a correctly rounded parser.
    if isinstance(value, bool):
        raise TypeError("booleans are not variables")
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    return {"complex": [repr(value.real), repr(value.imag)]}


def int_to_str(value):
    previous = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return str(value)
    finally:
        sys.set_int_max_str_digits(previous)


def python_eval(case):
    try:
        result = evaluator(case["py_vars"], {}, case["expr"], case_sensitive=case["case_sensitive"])
    except ParseException as exc:
        return {"kind": "error", "error": "ParseError", "message": str(exc)}
    except (UndefinedVariable, UnmatchedParenthesis) as exc:
        return {"kind": "error", "error": type(exc).__name__, "message": str(exc)}
    except Exception as exc:  # noqa: BLE001 - every Python exception class is compared
        return {"kind": "error", "error": type(exc).__name__, "message": str(exc)}
    module = type(result).__module__
    type_name = type(result).__name__ if module == "builtins" else f"{module}.{type(result).__name__}"
    if isinstance(result, (int, numpy.integer)):
        return {"kind": "int", "type": type_name, "value": int_to_str(int(result))}
    if isinstance(result, (float, numpy.floating)):
        return {"kind": "real", "type": type_name, "value": encode_float(float(result))}
    if isinstance(result, (complex, numpy.complexfloating)):
        z = complex(result)
        return {"kind": "complex", "type": type_name, "value": [encode_float(z.real), encode_float(z.imag)]}
    return {"kind": "unknown", "type": type_name, "value": repr(result)}


class GlibcRealKernels:
    """Context manager running openedx-calc with the C library's real functions.

    numpy evaluates float64 sin/exp/log10/tanh... with its own SIMD kernels, which differ from
    the C library's (used by the Rust evaluator) in the last bit or two. Ill-conditioned
    expressions such as tan(cosh(20)) or x^(huge) amplify that into visible differences. When a
    case disagrees, it is re-evaluated in Python with numpy's real kernels swapped for the C
    library's (through the `math` module); if Python then agrees with Rust, the difference is
    explained by those last-bit differences alone and is reported as such, not as a mismatch.
    """

    NAMES = {
        "sin": math.sin, "cos": math.cos, "tan": math.tan, "exp": math.exp, "sinh": math.sinh,
        "cosh": math.cosh, "tanh": math.tanh, "arcsinh": math.asinh, "arccosh": math.acosh,
        "arctanh": math.atanh, "arctan": math.atan, "arcsin": math.asin, "arccos": math.acos,
        "log": math.log, "log10": math.log10, "log2": math.log2,
    }

    @staticmethod
    def wrap(original, replacement):
        def kernel(x):
            if isinstance(x, (float, numpy.floating, numpy.integer)) or (
                isinstance(x, int) and -2**63 <= x < 2**63
            ):
                try:
                    return numpy.float64(replacement(float(x)))
                except (ValueError, OverflowError):
                    pass
            return original(x)
        return kernel

    def __enter__(self):
        import types
        import calc.calc as calc_module
        import calc.functions as functions_module
        self.calc_module, self.functions_module = calc_module, functions_module
        self.saved_functions = dict(calc_module.DEFAULT_FUNCTIONS)
        self.saved_numpy = functions_module.numpy
        proxy = types.SimpleNamespace(**{k: getattr(numpy, k) for k in ("pi", "real")})
        for name, replacement in self.NAMES.items():
            setattr(proxy, name, self.wrap(getattr(numpy, name), replacement))
        functions_module.numpy = proxy
        scimath = {"sqrt", "log10", "log2", "ln", "arccos", "arcsin", "arctanh"}
        for key, function in calc_module.DEFAULT_FUNCTIONS.items():
            ufunc_name = {"ln": "log"}.get(key, key)
            if ufunc_name in self.NAMES and key not in scimath | {"arccosh"}:
                calc_module.DEFAULT_FUNCTIONS[key] = self.wrap(function, self.NAMES[ufunc_name])
            elif key in scimath and ufunc_name in self.NAMES:
                replacement = self.NAMES[ufunc_name]

                def real_domain(x, function=function, replacement=replacement, key=key):
                    # Only inputs where scimath stays real go to the C library.
                    if isinstance(x, complex) or isinstance(x, numpy.complexfloating):
                        return function(x)
                    if key in ("arcsin", "arccos", "arctanh") and not -1 <= x <= 1:
                        return function(x)
                    if key in ("log10", "log2", "ln") and not x > 0:
                        return function(x)
                    return GlibcRealKernels.wrap(function, replacement)(x)

                calc_module.DEFAULT_FUNCTIONS[key] = real_domain
        calc_module.DEFAULT_FUNCTIONS["arccosh"] = self.wrap(
            self.saved_functions["arccosh"], math.acosh
        )
        return self

    def __exit__(self, *exc):
        self.calc_module.DEFAULT_FUNCTIONS.clear()
        self.calc_module.DEFAULT_FUNCTIONS.update(self.saved_functions)
        self.functions_module.numpy = self.saved_numpy
        return False


def decode_float(x):
    return float(x) if isinstance(x, str) else x


def floats_close(a, b, scale):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return abs(a - b) <= REL_TOL * scale


def compare(py, rs):
    """Returns None when the results agree, else a short reason."""
    if py["kind"] == "error" or rs.get("kind") == "error":
        if py["kind"] != rs.get("kind"):
            return "one side raised"
        if py["error"] != rs["error"]:
            return "different error class"
        if py["error"] != "ParseError" and py["message"] != rs["message"]:
            return "different error message"
        return None
    if py["kind"] != rs.get("kind"):
        return "different result kind"
    if py["type"] != rs.get("type"):
        return "different Python type"
    if py["kind"] == "int":
        return None if py["value"] == rs["value"] else "different int"
    if py["kind"] == "real":
        a, b = decode_float(py["value"]), decode_float(rs["value"])
        finite = [abs(v) for v in (a, b) if math.isfinite(v)]
        return None if floats_close(a, b, max(finite, default=0.0)) else "different real"
    a = [decode_float(v) for v in py["value"]]
    b = [decode_float(v) for v in rs["value"]]
    finite = [abs(v) for v in a + b if math.isfinite(v)]
    scale = max(finite, default=0.0)
    if all(floats_close(x, y, scale) for x, y in zip(a, b)):
        return None
    return "different complex"


def build_binary():
    cmd = ["cargo", "build", "--release", "-p", "coursetasks-calc", "--example", "calc_batch"]
    subprocess.run(cmd, cwd=REPO_ROOT, check=True)
    meta = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--no-deps"],
        cwd=REPO_ROOT, check=True, capture_output=True, text=True,
    )
    target_dir = Path(json.loads(meta.stdout)["target_directory"])
    return target_dir / "release" / "examples" / "calc_batch"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--binary", help="prebuilt calc_batch binary (default: build it with cargo)")
    parser.add_argument("--show", type=int, default=20, help="mismatches to list")
    args = parser.parse_args()

    warnings.simplefilter("ignore")  # numpy's overflow/divide warnings are not results
    binary = Path(args.binary) if args.binary else build_binary()

    rng = random.Random(args.seed)
    cases = curated_cases(rng)
    for _ in range(args.count):
        py_vars = random_vars(rng)
        gen = Gen(rng, list(py_vars))
        cases.append({
            "expr": gen.expression(),
            "py_vars": py_vars,
            "case_sensitive": rng.random() < 0.2,
        })

    requests = "".join(
        json.dumps({
            "expr": c["expr"],
            "vars": {k: encode_var(v) for k, v in c["py_vars"].items()},
            "case_sensitive": c["case_sensitive"],
        }) + "\n"
        for c in cases
    )
    proc = subprocess.run([str(binary)], input=requests, capture_output=True, text=True, check=True)
    rust_results = [json.loads(line) for line in proc.stdout.splitlines()]
    if len(rust_results) != len(cases):
        sys.exit(f"calc_batch answered {len(rust_results)} lines for {len(cases)} cases")

    mismatches = []
    explained = []
    skipped = 0
    tally = {}
    for case, rs in zip(cases, rust_results):
        if rs.get("kind") == "error" and RUST_LIMIT_MARKER in rs.get("message", ""):
            skipped += 1
            continue
        py = python_eval(case)
        outcome = py["error"] if py["kind"] == "error" else py["type"]
        tally[outcome] = tally.get(outcome, 0) + 1
        reason = compare(py, rs)
        if reason:
            with GlibcRealKernels():
                py_glibc = python_eval(case)
            if compare(py_glibc, rs) is None:
                explained.append((reason, case, py, rs))
            else:
                mismatches.append((reason, case, py, rs))

    compared = len(cases) - skipped
    for reason, case, py, rs in mismatches[: args.show]:
        print(f"MISMATCH ({reason}): expr={case['expr']!r} vars={case['py_vars']!r} "
              f"case_sensitive={case['case_sensitive']}")
        print(f"    python: {json.dumps(py)}")
        print(f"    rust:   {json.dumps(rs)}")
    for reason, case, py, rs in explained[: args.show]:
        print(f"explained by numpy's SIMD kernels ({reason}): expr={case['expr']!r} "
              f"vars={case['py_vars']!r}")
        print(f"    python: {json.dumps(py)}")
        print(f"    rust:   {json.dumps(rs)}")
    breakdown = ", ".join(f"{k}={v}" for k, v in sorted(tally.items(), key=lambda kv: -kv[1]))
    print(f"outcomes: {breakdown}")
    print(f"calc_diff: seed={args.seed} cases={len(cases)} compared={compared} "
          f"skipped_rust_limit={skipped} last_bit_explained={len(explained)} "
          f"mismatches={len(mismatches)}")
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
