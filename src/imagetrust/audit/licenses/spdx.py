"""SPDX license expressions: AND/OR/WITH with parentheses, plus common non-SPDX spellings normalised."""

from __future__ import annotations

import re
from dataclasses import dataclass

from imagetrust.errors import MalformedContent

ALIASES = {
    "gpl": "GPL-2.0-or-later", "gplv2": "GPL-2.0-only", "gpl-2": "GPL-2.0-only", "gpl2": "GPL-2.0-only",
    "gpl-2+": "GPL-2.0-or-later", "gpl-2.0+": "GPL-2.0-or-later", "gpl-2.0": "GPL-2.0-only",
    "gplv3": "GPL-3.0-only", "gpl-3": "GPL-3.0-only", "gpl3": "GPL-3.0-only", "gpl-3+": "GPL-3.0-or-later",
    "gpl-3.0+": "GPL-3.0-or-later", "gpl-3.0": "GPL-3.0-only", "gplv3+": "GPL-3.0-or-later",
    "lgpl-2": "LGPL-2.0-only", "lgpl-2+": "LGPL-2.0-or-later", "lgpl-2.1": "LGPL-2.1-only",
    "lgpl-2.1+": "LGPL-2.1-or-later", "lgpl-3": "LGPL-3.0-only", "lgpl-3+": "LGPL-3.0-or-later",
    "lgpl-3.0": "LGPL-3.0-only", "agpl-3": "AGPL-3.0-only", "agpl-3.0": "AGPL-3.0-only",
    "agpl-3+": "AGPL-3.0-or-later", "apache-2": "Apache-2.0", "apache 2.0": "Apache-2.0",
    "apache2": "Apache-2.0", "apache-2.0": "Apache-2.0", "apache license 2.0": "Apache-2.0",
    "asl 2.0": "Apache-2.0", "mit license": "MIT", "expat": "MIT", "bsd-3": "BSD-3-Clause",
    "bsd-3-clause": "BSD-3-Clause", "bsd-2": "BSD-2-Clause", "bsd-2-clause": "BSD-2-Clause",
    "mpl-2": "MPL-2.0", "mpl-2.0": "MPL-2.0", "public-domain": "LicenseRef-public-domain",
    "public domain": "LicenseRef-public-domain", "zlib": "Zlib", "isc": "ISC",
    "artistic": "Artistic-1.0-Perl",
    "python": "PSF-2.0", "psf": "PSF-2.0",
}  # fmt: skip
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


@dataclass(frozen=True)
class License:
    id: str
    exception: str | None = None

    def __str__(self) -> str:
        return f"{self.id} WITH {self.exception}" if self.exception else self.id


@dataclass(frozen=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Expr, ...]


Expr = License | And | Or


def normalise(name: str) -> str:
    """The SPDX id for a license name as distributions write it (``GPL-2+``, ``Apache 2.0``, ``Expat``)."""
    key = name.strip().lower()
    if key in ALIASES:
        return ALIASES[key]
    if key.endswith("+") and not key.endswith("-or-later+"):
        base = normalise(name.strip()[:-1])
        if base.endswith("-only"):
            return base[: -len("-only")] + "-or-later"
    return name.strip()


def parse(text: str) -> Expr:
    """Parse an expression; plain names that are not SPDX syntax (``Apache 2.0``) are read as one license."""
    text = text.strip()
    if not text:
        raise MalformedContent("license expression: empty")
    if text.lower() in ALIASES:
        return License(ALIASES[text.lower()])
    tokens = _TOKEN.findall(text)
    pos = 0

    def peek() -> str | None:
        return str(tokens[pos]) if pos < len(tokens) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise MalformedContent(f"license expression {text!r}: ends early")
        pos += 1
        return str(tokens[pos - 1])

    def primary() -> Expr:
        tok = take()
        if tok == "(":
            inner = or_expr()
            if take() != ")":
                raise MalformedContent(f"license expression {text!r}: missing )")
            return inner
        if tok.upper() in ("AND", "OR", "WITH", ")"):
            raise MalformedContent(f"license expression {text!r}: unexpected {tok!r}")
        lic = License(normalise(tok))
        nxt = peek()
        if nxt is not None and nxt.upper() == "WITH":
            take()
            return License(lic.id, take())
        return lic

    def and_expr() -> Expr:
        terms = [primary()]
        while (nxt := peek()) is not None and nxt.upper() == "AND":
            take()
            terms.append(primary())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def or_expr() -> Expr:
        terms = [and_expr()]
        while (nxt := peek()) is not None and nxt.upper() == "OR":
            take()
            terms.append(and_expr())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    expr = or_expr()
    if pos != len(tokens):
        # not SPDX syntax (e.g. "GNU General Public License"): treat the whole text as one name
        return License(normalise(text))
    return expr


def licenses_in(expr: Expr) -> list[License]:
    if isinstance(expr, License):
        return [expr]
    return [lic for t in expr.terms for lic in licenses_in(t)]


__all__ = ["ALIASES", "And", "Expr", "License", "Or", "licenses_in", "normalise", "parse"]
