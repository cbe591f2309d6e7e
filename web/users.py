"""Accounts: roles, permissions, password hashing, creation. Shared by the web app and `checkpoint user`."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Optional

from sqlmodel import Session, func, select
from werkzeug.security import check_password_hash, generate_password_hash

from checkpoint.models import User
from web import passwords

GUARD, MANAGER, ADMIN = "guard", "manager", "admin"
ROLES = (GUARD, MANAGER, ADMIN)

# What each role may do; admin may do everything.
PERMISSIONS: dict[str, frozenset[str]] = {
    GUARD: frozenset({"screen", "override", "exit"}),
    MANAGER: frozenset({"screen", "log", "reports", "export", "api"}),
    ADMIN: frozenset({"screen", "override", "exit", "log", "reports", "export", "api", "admin"}),
}
MIN_PASSWORD, MAX_PASSWORD = passwords.MIN_LENGTH, passwords.MAX_LENGTH
USERNAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
# A hash to compare against when the user does not exist, so timing does not tell.
_DUMMY_HASH = generate_password_hash("not-a-password")


class UserError(ValueError):
    """A refused account change; ``key`` and ``params`` name its text in web/i18n.py when it has one."""

    def __init__(self, message: str, key: Optional[str] = None, params: Optional[dict] = None) -> None:
        super().__init__(message)
        self.key, self.params = key, params or {}


def can(user: Optional[User], permission: str) -> bool:
    return bool(user and user.active and permission in PERMISSIONS.get(user.role, ()))


def validate(username: str, password: Optional[str], role: str, language: Optional[str]) -> None:
    if not USERNAME.fullmatch(username or ""):
        raise UserError("username must be 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if language not in (None, "", "id", "en"):
        raise UserError("language must be id or en")
    if password is not None:
        found = passwords.problem(password, username)
        if found is not None:
            raise UserError(found.english, found.key, found.params)


def create_user(session: Session, username: str, password: str, role: str,
                language: Optional[str] = None) -> User:
    validate(username, password, role, language)
    if find_user(session, username) is not None:
        raise UserError(f"user {username!r} already exists")
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                language=language or None, active=True, created_at=datetime.now(timezone.utc))
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def end_sessions(user: User) -> None:
    """Every session of ``user`` ends at its next request (web.auth checks the generation on each one), and the
    account's sign-in delay starts over (web.limits keys it by the generation). The caller commits."""
    user.session_generation = (user.session_generation or 0) + 1


def set_password(session: Session, user: User, password: str) -> None:
    validate(user.username, password, user.role, user.language)
    user.password_hash = generate_password_hash(password)
    end_sessions(user)
    session.add(user)
    session.commit()


def set_active(session: Session, user: User, active: bool) -> None:
    """Enable or disable; either way the account's open sessions end (re-enabling brings none back)."""
    user.active = active
    end_sessions(user)
    session.add(user)
    session.commit()


def set_role(session: Session, user: User, role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    user.role = role
    end_sessions(user)
    session.add(user)
    session.commit()


def unlock(session: Session, user: User) -> None:
    """From the console: the account's sign-in delay is cleared (and its open sessions end)."""
    end_sessions(user)
    session.add(user)
    session.commit()


def find_user(session: Session, username: str) -> Optional[User]:
    return session.exec(select(User).where(User.username == username)).first()


def verify(user: Optional[User], password: str) -> bool:
    """Whether ``password`` is ``user``'s and the account is active; as slow for a missing user as for one."""
    if len(password or "") > passwords.MAX_SIGN_IN_LENGTH:
        return False  # longer than any password ever set here: no hashing of megabytes
    if user is None:
        check_password_hash(_DUMMY_HASH, password or "")
        return False
    return check_password_hash(user.password_hash, password or "") and user.active


def authenticate(session: Session, username: str, password: str) -> Optional[User]:
    user = find_user(session, username) if username else None
    return user if verify(user, password) else None


def user_count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(User)).one()
