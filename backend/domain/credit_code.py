"""Unified social credit code (统一社会信用代码, GB 32100-2015): 18 characters, last one a check digit."""

from __future__ import annotations

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [pow(3, i, 31) for i in range(17)]


def check_digit(first17: str) -> str:
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def check_credit_code(code: str) -> str:
    """Return the code in upper case, or raise ValueError saying what is wrong with it."""
    code = code.strip().upper()
    if len(code) != 18:
        raise ValueError(f"a unified social credit code has 18 characters, this one has {len(code)}")
    bad = sorted({ch for ch in code if ch not in ALPHABET})
    if bad:
        raise ValueError(f"character(s) {''.join(bad)!r} cannot appear in a unified social credit code")
    expected = check_digit(code[:17])
    if code[17] != expected:
        raise ValueError(f"check digit is {code[17]!r} but should be {expected!r}")
    return code
