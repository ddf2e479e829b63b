"""C helper functions that scalar-op expressions call, written once for every C-family dialect.

`scalar/basic.py` keeps each op's expression (`c_expr`) dialect-free: `max({0}, {1})`,
`floor_div({0}, {1})`, `erfinv({0})`.  The renderer maps such a call to `th_<name>_<dtype>`
and asks this module for the definition, which follows NumPy's semantics for that dtype
(NaN-propagating max/min, Python's floor division and modulo, no trap on integer division by
zero, round-half-away-from-zero).  Each template uses `{T}` (the C type), `{F}` (the math
function suffix: `f` for float32, empty for float64) and `{Q}` (the dialect's qualifier for
device functions, e.g. `static inline`).
"""

from __future__ import annotations

_FLOAT = {
    # NaN-propagating; equal operands (0.0 and -0.0) give b, as NumPy's float32/float64
    # loops do (its float16 loop gives a: _FLOAT16 below)
    "max": "{Q} {T} th_max_{D}({T} a, {T} b) {{ return (a != a || a > b) ? a : b; }}",
    "min": "{Q} {T} th_min_{D}({T} a, {T} b) {{ return (a != a || a < b) ? a : b; }}",
    "abs": "{Q} {T} th_abs_{D}({T} a) {{ return fabs{F}(a); }}",
    # NumPy: sign(-0.0) is 0.0, sign(nan) is nan
    "sgn": "{Q} {T} th_sgn_{D}({T} a) {{ return a > 0 ? 1 : (a < 0 ? -1 : (a == 0 ? 0 : a)); }}",
    # SciPy: gammaln(-inf) is -inf (C's lgamma gives +inf)
    "lgamma": "{Q} {T} th_lgamma_{D}({T} a) {{ return a == -INFINITY ? a : lgamma{F}(a); }}",
    "mod": """{Q} {T} th_mod_{D}({T} a, {T} b) {{
    {T} m = fmod{F}(a, b);
    if (b == 0) return m;
    if (m != 0) {{ if ((b < 0) != (m < 0)) m += b; }}
    else m = copysign{F}(({T})0, b);
    return m;
}}""",
    "floor_div": """{Q} {T} th_floor_div_{D}({T} a, {T} b) {{
    if (b == 0) return a / b;
    {T} m = fmod{F}(a, b);
    {T} d = (a - m) / b;
    if (m != 0 && ((b < 0) != (m < 0))) d -= 1;
    if (d == 0) return copysign{F}(({T})0, a / b);
    {T} f = floor{F}(d);
    if (d - f > 0.5) f += 1;
    return f;
}}""",
    "round_half_away": """{Q} {T} th_round_half_away_{D}({T} a) {{
    {T} t = trunc{F}(a);
    if (fabs{F}(a - t) >= 0.5) t += (a < 0 ? -1 : 1);
    return t;
}}""",
    # Shifted up to x >= 10 by the recurrence, then the asymptotic series to x^-14 (the
    # first omitted term is below 1e-16 relative there).
    "digamma": """{Q} {T} th_digamma_{D}({T} x_) {{
    double x = x_, r = 0;
    if (x != x || x == -INFINITY) return NAN;
    if (x <= 0 && x == floor(x)) return x == 0 ? copysign((double)INFINITY, -x) : NAN;
    if (x < 0) {{  /* reflection: psi(1 - x) - psi(x) = pi cot(pi x); cot has period 1 and
                    x - round(x) is exact, where pi * x for a large x is not */
        r = -M_PI / tan(M_PI * (x - round(x)));
        x = 1 - x;
    }}
    while (x < 10) {{ r -= 1 / x; x += 1; }}
    double f = 1 / (x * x);
    return r + log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (1.0 / 252
        - f * (1.0 / 240 - f * (1.0 / 132 - f * (691.0 / 32760 - f / 12))))));
}}""",
    # Shifted up to x >= 12, then the asymptotic series to x^-15.
    "trigamma": """{Q} {T} th_trigamma_{D}({T} x_) {{
    double x = x_, p = 0, q = 0;
    int reflected = x < 0;
    if (x != x) return x;
    if (x <= 0 && x == floor(x)) return INFINITY;
    if (reflected) {{  /* reflection: psi1(1 - x) + psi1(x) = pi^2 / sin^2(pi x) */
        double s = sin(M_PI * (x - round(x)));  /* sin^2 has period 1 */
        p = M_PI * M_PI / (s * s);
        x = 1 - x;
    }}
    while (x < 12) {{ q += 1 / (x * x); x += 1; }}
    double f = 1 / (x * x);
    q += 1 / x + f / 2 + (1.0 / 6 - f * (1.0 / 30 - f * (1.0 / 42 - f * (1.0 / 30
        - f * (5.0 / 66 - f * (691.0 / 2730 - f * (7.0 / 6))))))) / (x * x * x);
    return reflected ? p - q : q;
}}""",
    # Giles' single-precision approximation, then two Newton steps on erf for double accuracy.
    "erfinv": """{Q} {T} th_erfinv_{D}({T} y_) {{
    double y = y_;
    if (y != y || y < -1 || y > 1) return NAN;
    if (y == 1) return INFINITY;
    if (y == -1) return -INFINITY;
    double w = -log((1 - y) * (1 + y)), p;
    if (w < 5) {{
        w -= 2.5;
        p = 2.81022636e-08; p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w;
        p = -4.39150654e-06 + p * w; p = 0.00021858087 + p * w; p = -0.00125372503 + p * w;
        p = -0.00417768164 + p * w; p = 0.246640727 + p * w; p = 1.50140941 + p * w;
    }} else {{
        w = sqrt(w) - 3;
        p = -0.000200214257; p = 0.000100950558 + p * w; p = 0.00134934322 + p * w;
        p = -0.00367342844 + p * w; p = 0.00573950773 + p * w; p = -0.0076224613 + p * w;
        p = 0.00943887047 + p * w; p = 1.00167406 + p * w; p = 2.83297682 + p * w;
    }}
    double x = p * y;
    for (int k = 0; k < 2; k++)
        x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}}""",
}

_FLOAT16 = {
    "max": "{Q} {T} th_max_{D}({T} a, {T} b) {{ return (a != a || a >= b) ? a : b; }}",
    "min": "{Q} {T} th_min_{D}({T} a, {T} b) {{ return (a != a || a <= b) ? a : b; }}",
}

_INT = {
    "max": "{Q} {T} th_max_{D}({T} a, {T} b) {{ return a >= b ? a : b; }}",
    "min": "{Q} {T} th_min_{D}({T} a, {T} b) {{ return a <= b ? a : b; }}",
    "abs": "{Q} {T} th_abs_{D}({T} a) {{ return a < 0 ? ({T})-a : a; }}",
    "sgn": "{Q} {T} th_sgn_{D}({T} a) {{ return ({T})(a > 0) - ({T})(a < 0); }}",
    "round_half_away": "{Q} {T} th_round_half_away_{D}({T} a) {{ return a; }}",
    # NumPy: division by zero gives 0 (with a warning), MIN // -1 wraps; C would trap on both.
    "floor_div": """{Q} {T} th_floor_div_{D}({T} a, {T} b) {{
    if (b == 0) return 0;
    if (b == -1) return ({T})(0 - a);
    {T} q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1;
    return q;
}}""",
    "mod": """{Q} {T} th_mod_{D}({T} a, {T} b) {{
    if (b == 0 || b == -1) return 0;
    {T} m = a % b;
    if (m != 0 && ((m < 0) != (b < 0))) m += b;
    return m;
}}""",
}

_UINT = {
    "max": _INT["max"], "min": _INT["min"],
    "abs": "{Q} {T} th_abs_{D}({T} a) {{ return a; }}",
    "sgn": "{Q} {T} th_sgn_{D}({T} a) {{ return a > 0; }}",
    "round_half_away": _INT["round_half_away"],
    "floor_div": "{Q} {T} th_floor_div_{D}({T} a, {T} b) {{ return b == 0 ? 0 : a / b; }}",
    "mod": "{Q} {T} th_mod_{D}({T} a, {T} b) {{ return b == 0 ? 0 : a % b; }}",
}

_BOOL = {
    "max": "{Q} {T} th_max_{D}({T} a, {T} b) {{ return a || b; }}",
    "min": "{Q} {T} th_min_{D}({T} a, {T} b) {{ return a && b; }}",
    "abs": "{Q} {T} th_abs_{D}({T} a) {{ return a; }}",
    "round_half_away": "{Q} {T} th_round_half_away_{D}({T} a) {{ return a; }}",
}


def helper_source(name: str, dtype: str, ctype: str, qualifier: str) -> str | None:
    """The definition of helper `name` for `dtype`, or None when it has none for that dtype
    (the expression is then not supported natively and the node falls back)."""
    if dtype.startswith("float"):
        table, suffix = _FLOAT, ("" if dtype == "float64" else "f")
        if dtype == "float16":  # computed in float and rounded once, as NumPy's half loops do
            ctype = "float"
            table = {**_FLOAT, **_FLOAT16}
    elif dtype.startswith("uint"):
        table, suffix = _UINT, ""
    elif dtype.startswith("int"):
        table, suffix = _INT, ""
    elif dtype == "bool":
        table, suffix = _BOOL, ""
    else:
        return None
    template = table.get(name)
    if template is None:
        return None
    return template.format(T=ctype, D=dtype, F=suffix, Q=qualifier)


HELPER_NAMES = frozenset(_FLOAT) | frozenset(_INT)
