#!/usr/bin/env python3
"""A real MCP client (official Python SDK `mcp` 2.x, Streamable HTTP) for Catwalk's end-to-end tests.

Connects with the legacy `initialize` handshake, lists tools, optionally calls one tool N times,
terminates the session (HTTP DELETE on exit) and prints one JSON line to stdout.

Usage: python3 py_client.py --url URL [--token TOKEN] [--call TOOL --args JSON]
                            [--repeat N] [--timeout SECONDS]

Success (exit 0): {"protocolVersion","serverName","tools":[...],"result","sessionId","calls"}
Failure (exit 1): {"error":"...","code":<HTTP status | JSON-RPC code | null>,"calls":<completed>}
Timeout (exit 2): {"error":"timed out after 60 s","code":null}
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from typing import Any, NoReturn

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

# Nothing but the result line may reach stdout; SDK logging goes to stderr (and only warnings).
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

_emit_lock = threading.Lock()
_emitted = False


def finish(obj: dict[str, Any], code: int) -> NoReturn:
    """Writes the one JSON result line (only the first caller wins) and exits at once."""
    global _emitted
    with _emit_lock:
        if not _emitted:
            _emitted = True
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()
    # os._exit: do not wait for SDK tasks or threads that may be stuck on a dead server.
    os._exit(code)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print usage and exit 2
        finish({"error": message, "code": None}, 1)


def parse_args() -> argparse.Namespace:
    p = _Parser(description=__doc__, add_help=False)
    p.add_argument("--url", required=True)
    p.add_argument("--token")
    p.add_argument("--call")
    p.add_argument("--args", dest="tool_args")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--timeout", type=int, default=60)
    ns = p.parse_args()
    if ns.tool_args is not None and ns.call is None:
        p.error("--args needs --call")
    if ns.repeat < 0 or ns.timeout <= 0:
        p.error("--repeat must be >= 0 and --timeout > 0")
    try:
        ns.tool_args = json.loads(ns.tool_args) if ns.tool_args is not None else {}
    except json.JSONDecodeError as e:
        p.error(f"invalid value for --args: {e}")
    if not isinstance(ns.tool_args, dict):
        p.error("--args must be a JSON object")
    return ns


class HttpObserver:
    """Remembers the session id the server assigned and the status of the last POST.

    mcp 2.x's transport yields only (read, write) and turns HTTP failures into generic
    JSON-RPC errors, so an httpx event hook is the only way to see either.
    """

    def __init__(self) -> None:
        self.session_id: str | None = None
        self.last_post_status: int | None = None

    async def on_response(self, response: httpx2.Response) -> None:
        sid = response.headers.get("mcp-session-id")
        if sid and self.session_id is None:
            self.session_id = sid
        if response.request.method == "POST":
            self.last_post_status = response.status_code


def _leaf_exceptions(exc: BaseException) -> list[BaseException]:
    # Duck-typed so that anyio's exceptiongroup backport (Python 3.10) unwraps too.
    subs = getattr(exc, "exceptions", None)
    if isinstance(subs, (list, tuple)) and subs:
        return [leaf for sub in subs for leaf in _leaf_exceptions(sub)]
    return [exc]


def describe_error(exc: BaseException, observer: HttpObserver) -> dict[str, Any]:
    """Maps an exception to {error, code}: a non-2xx POST status wins, then a JSON-RPC code."""
    leaves = _leaf_exceptions(exc)
    # Prefer the MCP-level error over transport noise raised alongside it in a group.
    primary = next((e for e in leaves if isinstance(e, MCPError)), leaves[0])
    message = str(primary) or type(primary).__name__
    if isinstance(primary, httpx2.HTTPError):
        message = f"{type(primary).__name__}: {message}"
    code: int | None = None
    status = observer.last_post_status
    if status is not None and not 200 <= status < 300:
        code = status
    elif isinstance(primary, MCPError):
        code = primary.code
    return {"error": message, "code": code}


async def list_all_tools(session: ClientSession) -> list[str]:
    names: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        params = {"cursor": cursor} if cursor else None
        res = await session.list_tools(params=params)  # type: ignore[arg-type]
        names.extend(t.name for t in res.tools)
        cursor = res.next_cursor
        if not cursor:
            return names
    raise RuntimeError("tools/list pagination did not end after 1000 pages")


async def run(ns: argparse.Namespace, observer: HttpObserver, progress: dict[str, int]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ns.token}"} if ns.token else {}
    http = httpx2.AsyncClient(
        headers=headers,
        timeout=httpx2.Timeout(30, read=300),
        event_hooks={"response": [observer.on_response]},
    )
    async with http:
        # terminate_on_close sends the DELETE when this block exits.
        async with streamable_http_client(ns.url, http_client=http, terminate_on_close=True) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=float(ns.timeout)) as session:
                init = await session.initialize()
                tools = await list_all_tools(session)
                result: dict[str, Any] | None = None
                if ns.call:
                    for _ in range(ns.repeat):
                        res = await session.call_tool(ns.call, ns.tool_args)
                        result = res.model_dump(mode="json", by_alias=True, exclude_none=True)
                        progress["calls"] += 1
        return {
            "protocolVersion": init.protocol_version,
            "serverName": init.server_info.name if init.server_info else None,
            "tools": tools,
            "result": result,
            "sessionId": observer.session_id,
            "calls": progress["calls"],
        }


def main() -> None:
    ns = parse_args()
    # A hard stop that works even if the event loop is wedged.
    timer = threading.Timer(ns.timeout, finish, args=({"error": f"timed out after {ns.timeout} s", "code": None}, 2))
    timer.daemon = True
    timer.start()

    observer = HttpObserver()
    progress = {"calls": 0}
    try:
        out = anyio.run(run, ns, observer, progress)
    except BaseException as exc:  # noqa: BLE001 - every failure must become one JSON line
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        finish({**describe_error(exc, observer), "calls": progress["calls"]}, 1)
    finish(out, 0)


if __name__ == "__main__":
    main()
