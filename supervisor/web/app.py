"""`teamctl web` put together: the access rules, one read-only mailbox, the poller, the server and
the two actions. The click command (cli/web.py) only parses and prints.
"""

from __future__ import annotations

from ..core.lazy_dataclass import lazy_dataclass
from ..store.readonly import ReadOnlyMailbox
from ..team import ops
from ..team.agent_history import FileCache
from ..team.compose import Team
from . import snapshot
from .access import Access, decide
from .hub import Hub
from .server import DashboardServer


@lazy_dataclass(frozen=True)
class WebOptions:
    host: str = "127.0.0.1"
    port: int = 8765
    allow_actions: bool = False
    new_token: bool = False
    poll: float = 1.0
    max_clients: int = 32


@lazy_dataclass
class Dashboard:
    server: DashboardServer
    hub: Hub
    access: Access
    token_is_new: bool

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host if ':' not in str(host) else f'[{host}]'}:{port}/"

    def page_url(self) -> str:
        """The URL to open: with the token in the fragment, which the browser never sends in a request."""
        return self.url + (f"#token={self.access.token}" if self.access.token else "")

    def close(self) -> None:
        self.hub.stop()
        self.server.shutdown()
        self.server.server_close()


def actions_for(team: Team):  # noqa: ANN201 (a closure over the team)
    """wake and restart, as `teamctl wake` and `teamctl restart` do them, for one agent."""

    def act(action: str, agent_id: str) -> tuple[bool, str]:
        try:
            agent = team.agent(agent_id)
        except Exception:  # an unknown name: nothing to do, said plainly
            return False, f"no agent {agent_id!r} in this team"
        if action == "wake":
            outcomes = ops.wake(team, [agent])
        else:
            outcomes = [*ops.down(team, [agent], 15.0), *ops.up(team, [agent], ops.choose_backend(None))]
        return all(o.ok for o in outcomes), "; ".join(o.message for o in outcomes)

    return act


def open_dashboard(team: Team, options: WebOptions) -> Dashboard:
    """Bind and start polling (AccessProblem, before anything is bound, when the bind is unsafe)."""
    access, fresh = decide(options.host, options.port, team.state_dir, options.allow_actions, options.new_token)
    mailbox = ReadOnlyMailbox(team.mailbox_path)
    cache = FileCache()
    hub = Hub(lambda: snapshot.build(team, mailbox, cache=cache, actions=options.allow_actions),
              options.poll, options.max_clients)
    server = DashboardServer((options.host, options.port), hub, access, actions_for(team))
    if options.port == 0:  # the Host check needs the port the kernel chose
        port = server.server_address[1]
        access = decide_hosts(access, options.host, port)
        server.access = access
    hub.start()
    return Dashboard(server, hub, access, fresh)


def decide_hosts(access: Access, host: str, port: int) -> Access:
    from dataclasses import replace

    if not access.allowed_hosts:
        return access
    return replace(access, allowed_hosts=frozenset({f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}))
