"""The one rule for a researcher password, for ``xai-study check``, the login form and ``xai-study serve``."""

from __future__ import annotations

MIN_PASSWORD_LENGTH = 12
# Passwords that documentation shows as examples, and the usual defaults: never accepted as the real one.
PLACEHOLDER_PASSWORDS = frozenset({
    "pick a long password", "change-me-to-a-long-random-string", "a long password", "a-long-random-password",
    "password", "passwort", "changeme", "change-me", "change me", "secret", "admin", "researcher", "abc",
    "123456", "letmein", "qwerty",
})


def password_problem(password: str | None) -> str | None:
    """Why ``password`` cannot open the researcher area (``None``: it can, or none is set): not a
    documentation example or a common default, and at least :data:`MIN_PASSWORD_LENGTH` characters."""
    if not password:
        return None
    if " ".join(password.casefold().split()) in PLACEHOLDER_PASSWORDS:
        return "it is an example or default password from the documentation; choose your own"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"it is {len(password)} characters long; use at least {MIN_PASSWORD_LENGTH}"
    return None
