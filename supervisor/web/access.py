"""Who may see the dashboard and who may act through it.

- On a loopback address the page is readable without a token; the actions (`--allow-actions`) still
  need the session's token, carried by a POST, so a page of another site cannot trigger them.
- On any other address every data request needs the token, and without one the server refuses to
  start: a team's state and its runtimes' output are not for the whole network.

The token lives in `state/web/token` (0600, never through a link), is printed once when it is
made, and is compared in constant time.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from pathlib import Path

from ..core.lazy_dataclass import lazy_dataclass
from ..store.safefs import private_dir, read_nofollow, write_private


class AccessProblem(Exception):
    """A setting that would expose the team: the command exits 2 and starts nothing."""

    user_error = True


def token_path(state_dir: Path) -> Path:
    return state_dir / "web" / "token"


def is_loopback(host: str) -> bool:
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def new_token(state_dir: Path) -> str:
    """A fresh token, kept 0600 under state/web/ (replacing any older one)."""
    token = secrets.token_urlsafe(24)
    private_dir(token_path(state_dir).parent)
    write_private(token_path(state_dir), token + "\n")
    return token


def stored_token(state_dir: Path) -> str | None:
    try:
        text = read_nofollow(token_path(state_dir)).decode("utf-8", "replace").strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AccessProblem(f"{token_path(state_dir)}: cannot read the dashboard token ({exc})") from exc
    return text or None


@lazy_dataclass(frozen=True)
class Access:
    token: str | None
    reads_need_token: bool
    allow_actions: bool
    allowed_hosts: frozenset[str]  # Host headers a loopback server answers (no DNS rebinding)

    def token_ok(self, given: str | None) -> bool:
        return bool(self.token) and given is not None and hmac.compare_digest(given.encode(), self.token.encode())

    def host_ok(self, host_header: str | None) -> bool:
        return not self.allowed_hosts or (host_header or "").lower() in self.allowed_hosts


def decide(host: str, port: int, state_dir: Path, allow_actions: bool, make_token: bool) -> tuple[Access, bool]:
    """The access rules for a bind; (access, token_is_new). Refuses (AccessProblem) a non-loopback
    bind with no token stored and none asked for."""
    token = new_token(state_dir) if make_token else stored_token(state_dir)
    fresh = make_token
    loopback = is_loopback(host)
    if not loopback and token is None:
        raise AccessProblem(
            f"--host {host} is not a loopback address: the dashboard needs a token there, and "
            f"{token_path(state_dir)} has none. Run again with --new-token (it is printed once and kept"
            " 0600 under state/), or bind to 127.0.0.1")
    if allow_actions and token is None:
        token, fresh = new_token(state_dir), True
    hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}) if loopback else frozenset()
    return Access(token, not loopback, allow_actions, hosts), fresh
