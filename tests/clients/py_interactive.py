#!/usr/bin/env python3
"""A real MCP client (official Python SDK `mcp` 2.x, high-level `mcp.Client`) for Catwalk's end-to-end tests.

`--mode auto` (the SDK's default) probes with `server/discover` and speaks the modern stateless
era (2026-07-28) when the server offers it, else falls back to `initialize`; `--mode legacy` runs
the plain `initialize` handshake. Against server-everything it then lists tools, calls `echo`,
counts the progress of `trigger-long-running-operation`, and answers the sampling and elicitation
requests of `trigger-sampling-request` and `trigger-elicitation-request` through the SDK's
callbacks (in the modern era the SDK fulfils the server's `input_required` results through the
same callbacks and retries the call with `inputResponses`).

Usage: python3 py_interactive.py --url URL [--token TOKEN] [--mode auto|legacy]
                                 [--transport http|sse] [--steps N] [--timeout SECONDS]
--transport sse uses the legacy HTTP+SSE transport (URL = the /sse stream; legacy era only).

Success (exit 0): {"era":"modern"|"legacy","protocolVersion","serverName","sessionId","tools":[...],
  "echo":<CallToolResult>,"progress":<notifications seen>,"steps":N,"longRunning":<CallToolResult>,
  "sampling":<CallToolResult>,"elicitation":<CallToolResult>,"samplingRequests":N,"elicitationRequests":N,
  "wire":{"methods":[JSON-RPC methods POSTed, in order],"inputResponses":<retries carrying inputResponses>}}
Failure (exit 1): {"error":"...","code":<HTTP status | JSON-RPC code | null>,"stage":"<step that failed>"}
Timeout (exit 2): {"error":"timed out after 60 s","code":null}
"""

from __future__ import annotations

import argparse
import json
import threading
from typing import Any, NoReturn

import anyio
import httpx2
from mcp import Client, types
from mcp.client.session import ClientRequestContext
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client

# Shared with py_client.py: the one-line output contract, and HTTP status / session id capture.
from py_client import HttpObserver, describe_error, finish


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse would print usage and exit 2
        finish({"error": message, "code": None}, 1)


def parse_args() -> argparse.Namespace:
    p = _Parser(description=__doc__, add_help=False)
    p.add_argument("--url", required=True)
    p.add_argument("--token")
    p.add_argument("--mode", choices=["auto", "legacy"], default="auto")
    p.add_argument("--transport", choices=["http", "sse"], default="http")
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--timeout", type=int, default=60)
    ns = p.parse_args()
    if ns.timeout <= 0 or ns.steps <= 0:
        p.error("--timeout and --steps must be > 0")
    return ns


class Wire(HttpObserver):
    """HttpObserver that also records what was POSTed.

    The SDK resolves `input_required` inside call_tool(), so the retries that carry
    `inputResponses` are the only outside evidence that the modern era's sampling and elicitation
    path (rather than a server-to-client request) was taken.
    """

    def __init__(self) -> None:
        super().__init__()
        self.methods: list[str] = []
        self.input_responses = 0

    async def on_request(self, request: httpx2.Request) -> None:
        if request.method != "POST":
            return
        try:
            body = json.loads(request.content)
        except (ValueError, TypeError):
            return
        if isinstance(body, dict):
            if "method" in body:
                self.methods.append(body["method"])
            params = body.get("params")
            if isinstance(params, dict) and params.get("inputResponses"):
                self.input_responses += 1


class Answers:
    """The client side of sampling and elicitation: canned replies, counted."""

    def __init__(self) -> None:
        self.sampling = 0
        self.elicitation = 0

    async def on_sampling(
        self, context: ClientRequestContext, params: types.CreateMessageRequestParams
    ) -> types.CreateMessageResult:
        self.sampling += 1
        return types.CreateMessageResult(
            role="assistant",
            model="catwalk-test-model",
            content=types.TextContent(type="text", text="canned sample from the client"),
        )

    async def on_elicitation(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.elicitation += 1
        return types.ElicitResult(
            action="accept",
            content={"color": "red", "number": 7, "checkbox": True, "email": "a@example.com", "name": "Catwalk"},
        )


def dump(result: Any) -> dict[str, Any]:
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


async def run(ns: argparse.Namespace, wire: Wire, stage: list[str]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {ns.token}"} if ns.token else {}
    hooks = {"request": [wire.on_request], "response": [wire.on_response]}
    http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300), event_hooks=hooks)
    if ns.transport == "sse":

        def factory(
            headers: dict[str, str] | None = None, timeout: httpx2.Timeout | None = None, auth: httpx2.Auth | None = None
        ) -> httpx2.AsyncClient:
            return httpx2.AsyncClient(
                headers=headers, timeout=timeout or httpx2.Timeout(30, read=300), auth=auth, event_hooks=hooks
            )

        transport: Any = sse_client(ns.url, headers=headers, timeout=30, httpx_client_factory=factory)
    else:
        transport = streamable_http_client(ns.url, http_client=http, terminate_on_close=True)
    answers = Answers()
    progress = 0

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        nonlocal progress
        progress += 1

    async with http:
        client = Client(
            transport,
            mode=ns.mode,
            read_timeout_seconds=float(ns.timeout),
            sampling_callback=answers.on_sampling,
            elicitation_callback=answers.on_elicitation,
            client_info=types.Implementation(name="catwalk-py-interactive-client", version="0.0.0"),
        )
        async with client:
            protocol_version = client.protocol_version
            server_name = client.server_info.name if client.server_info else None
            stage[0] = "tools/list"
            tools = [t.name for t in (await client.list_tools()).tools]
            stage[0] = "echo"
            echo = await client.call_tool("echo", {"message": f"py {ns.mode}"})
            stage[0] = "progress"
            long_running = await client.call_tool(
                "trigger-long-running-operation", {"duration": 1, "steps": ns.steps}, progress_callback=on_progress
            )
            stage[0] = "sampling"
            sampling = await client.call_tool("trigger-sampling-request", {"prompt": "say hi", "maxTokens": 10})
            stage[0] = "elicitation"
            elicitation = await client.call_tool("trigger-elicitation-request", {})
            stage[0] = "close"
    return {
        "era": "modern" if protocol_version >= "2026-07-28" else "legacy",
        "protocolVersion": protocol_version,
        "serverName": server_name,
        "sessionId": wire.session_id,
        "tools": tools,
        "echo": dump(echo),
        "progress": progress,
        "steps": ns.steps,
        "longRunning": dump(long_running),
        "sampling": dump(sampling),
        "elicitation": dump(elicitation),
        "samplingRequests": answers.sampling,
        "elicitationRequests": answers.elicitation,
        "wire": {"methods": wire.methods, "inputResponses": wire.input_responses},
    }


def main() -> None:
    ns = parse_args()
    # A hard stop that works even if the event loop is wedged.
    timer = threading.Timer(ns.timeout, finish, args=({"error": f"timed out after {ns.timeout} s", "code": None}, 2))
    timer.daemon = True
    timer.start()

    wire = Wire()
    stage = ["connect"]
    try:
        out = anyio.run(run, ns, wire, stage)
    except BaseException as exc:  # noqa: BLE001 - every failure must become one JSON line
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        finish({**describe_error(exc, wire), "stage": stage[0]}, 1)
    finish(out, 0)


if __name__ == "__main__":
    main()
