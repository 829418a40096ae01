"""The pytest plugin (entry point `pytest11`): the fixture `terminus_server`, and the journal in failure reports.

- One `terminus serve` per session: per worker under pytest-xdist, since each worker is a session of its own.
- Before each test that uses `terminus_server`, the world is put back as the server started (`POST /reset`), and the
  journal's last id is noted, so `terminus_server.journal()` and the report hold that test's requests only.
- When such a test fails, its report gets a section `terminus journal`: one line per request it sent (id, action,
  verdict, HTTP status, error code), and under a rejected signature the server's diagnosis (the client mistake
  that explains it, the cause, the first step that differs).

Options: `--terminus-world FILE` starts the server with that world file instead of the built-in one.
"""

from typing import Any, Dict, Iterator, List, Optional

import pytest

from .server import TerminusServer, start

# The report section's title.
SECTION = "terminus journal"
# Where a test's journal position and server are kept on its item.
_BEGAN = pytest.StashKey[Optional[int]]()
_SERVER = pytest.StashKey[TerminusServer]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("terminus", "terminus mock")
    group.addoption("--terminus-world", metavar="FILE", default=None,
                    help="world file for the terminus_server fixture's server (default: the built-in world)")


class TerminusTestServer:
    """What a test gets as `terminus_server`: the session's server, its journal limited to the test's requests."""

    def __init__(self, server: TerminusServer, began: Optional[int]):
        self._server = server
        self._began = began

    def __getattr__(self, name: str) -> Any:
        return getattr(self._server, name)

    def __repr__(self) -> str:
        return f"terminus_server({self._server.url!r})"

    def journal(self, **filters: Any) -> List[Dict[str, Any]]:
        """This test's requests (`since` the test began, unless given), filtered as `Client.journal`."""
        if self._began is not None:
            filters.setdefault("since", self._began)
        return self._server.journal(**filters)


@pytest.fixture(scope="session")
def terminus_session_server(request: pytest.FixtureRequest) -> Iterator[TerminusServer]:
    """The session's `terminus serve` (one per xdist worker)."""
    server = start(world=request.config.getoption("terminus_world"))
    try:
        yield server
    finally:
        server.stop()


def _last_id(server: TerminusServer) -> int:
    entries = server.journal(limit=1)
    return entries[-1]["id"] if entries else 0


@pytest.fixture
def terminus_server(request: pytest.FixtureRequest, terminus_session_server: TerminusServer) -> TerminusTestServer:
    """The session's terminus server, its world put back as it started."""
    terminus_session_server.reset()
    terminus_session_server.scenario_id = None
    began = _last_id(terminus_session_server)
    request.node.stash[_BEGAN] = began
    request.node.stash[_SERVER] = terminus_session_server
    return TerminusTestServer(terminus_session_server, began)


def journal_lines(entries: List[Dict[str, Any]]) -> List[str]:
    """The report's lines for journal entries."""
    lines = []
    for entry in entries:
        code = entry.get("code") or "-"
        lines.append(f"#{entry['id']} {entry.get('provider')} {entry.get('action') or '?'}: {entry.get('verdict')} "
                     f"HTTP {entry.get('status')} {code}")
        diagnosis = entry.get("diagnosis")
        if diagnosis:
            if diagnosis.get("mistake"):
                lines.append(f"    mistake: {diagnosis['mistake']}")
            for field in ("cause", "step", "difference"):
                if diagnosis.get(field):
                    lines.append(f"    {field}: {diagnosis[field]}")
    return lines


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or report.when == "teardown" or _SERVER not in item.stash:
        return
    server = item.stash[_SERVER]
    try:
        entries = server.journal(since=item.stash[_BEGAN])
    except Exception as error:  # the report must not hide the test's own failure
        report.sections.append((SECTION, f"(the journal could not be read: {error})"))
        return
    text = "\n".join(journal_lines(entries)) if entries else "(no request reached the server)"
    report.sections.append((SECTION, text))
