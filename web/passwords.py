"""What a new password must be: 8 to 128 characters, and none of the guesses an attacker tries first.

Refused: only spaces, one character or a short group repeated (``aaaaaaaa``,
``abababab``), a run such as ``12345678`` or ``abcdefgh``, the user name, and
the commonest passwords (a small built-in list, English and Indonesian), also
with digits or signs added at the end (``password2024!``). Nothing else is
required (no rules of the "one capital, one digit" kind, which make passwords
harder to remember and no harder to guess). The upper bound keeps the cost of
hashing a password small and fixed.

``problem()`` returns the reason as a key of web/i18n.py's table with its
parameters, so the web app says it in the user's language and the command line
in English (``PasswordProblem.english``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

MIN_LENGTH = 8
MAX_LENGTH = 128
# at sign-in, anything longer than this is refused without hashing (new passwords stop at MAX_LENGTH)
MAX_SIGN_IN_LENGTH = 1024

# The commonest passwords of 8 characters or more in published breach lists, plus Indonesian favourites
# and this app's own name. Compared in lower case, and again without trailing digits and signs.
COMMON = frozenset("""
password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword pass1234 passpass
12345678 123456789 1234567890 0987654321 87654321 11223344 12341234 12121212 123123123 112233445566
1q2w3e4r 1q2w3e4r5t q1w2e3r4 qwertyui qwertyuiop qwerty12 qwerty123 qwer1234 1234qwer 1qaz2wsx zaq12wsx
asdfghjk asdfghjkl asdf1234 zxcvbnm1 zxcvbnm123 zxcvbnmm abcd1234 1234abcd abc12345 abcdefg1 a1b2c3d4
aa123456 aa112233 iloveyou iloveyou1 sunshine princess football baseball basketball welcome welcome1
welcome123 letmein letmein1 trustno1 superman starwars whatever michael1 computer internet monkey123
dragon123 shadow123 master123 jordan23 liverpool chelsea1 arsenal1 manchester barcelona charlie1
admin123 admin1234 administrator changeme changeme1 default secret123 test1234 testtest qazwsxedc
google123 samsung1 facebook iloveyou2 lovelove loveyou1 babygirl butterfly chocolate 11111111
bismillah bismillah123 alhamdulillah indonesia indonesia1 indonesia123 sayangku sayang123 sayangkamu
cintaku cinta123 rahasia rahasia1 rahasia123 katasandi katasandi1 jakarta1 jakarta123 merdeka merdeka45
semangat semangat1 bandung1 surabaya1 garuda123 masuk123 masukaja
checkpoint checkpoint1 checkpoint123 pelayanan pelayanan1 satpam123 petugas123 penjaga123
""".split())

_TRAILING = re.compile(r"[\d\W_]+$")


@dataclass(frozen=True)
class PasswordProblem:
    key: str  # web/i18n.py TEXT key
    params: dict = field(default_factory=dict)

    @property
    def english(self) -> str:
        return ENGLISH[self.key].format(**self.params)


ENGLISH = {
    "password.too_short": "the password must have at least {min} characters",
    "password.too_long": "the password may have at most {max} characters",
    "password.blank": "the password cannot be only spaces",
    "password.repeated": "the password cannot be one character or a short group repeated (like aaaaaaaa)",
    "password.sequence": "the password cannot be a run such as 12345678 or abcdefgh",
    "password.username": "the password cannot be the user name",
    "password.common": "this password is one of the commonest and is guessed first: choose another",
}


def _repeated(password: str) -> bool:
    """One character or a group of at most 3 repeated to the end (aaaaaaaa, abababab, 123123123)."""
    for size in (1, 2, 3):
        if len(password) >= 2 * size and password == (password[:size] * (len(password) // size + 1))[:len(password)]:
            return True
    return False


def _run(password: str) -> bool:
    """Code points going up or down by one all the way (12345678, abcdefgh, 87654321)."""
    steps = {ord(b) - ord(a) for a, b in zip(password, password[1:])}
    return steps in ({1}, {-1})


def problem(password: str, username: Optional[str] = None) -> Optional[PasswordProblem]:
    """Why ``password`` may not be set (for ``username``), or None when it may."""
    if len(password) < MIN_LENGTH:
        return PasswordProblem("password.too_short", {"min": MIN_LENGTH})
    if len(password) > MAX_LENGTH:
        return PasswordProblem("password.too_long", {"max": MAX_LENGTH})
    if not password.strip():
        return PasswordProblem("password.blank")
    lowered = password.strip().lower()
    if _repeated(lowered):
        return PasswordProblem("password.repeated")
    if _run(lowered):
        return PasswordProblem("password.sequence")
    base = _TRAILING.sub("", lowered)
    name = (username or "").strip().lower()
    if name and name in (lowered, base, lowered[::-1]):
        return PasswordProblem("password.username")
    if lowered in COMMON or base in COMMON or lowered.replace(" ", "") in COMMON:
        return PasswordProblem("password.common")
    return None
