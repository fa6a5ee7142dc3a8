"""Drives Fathom with the official MCP Python SDK (the `mcp` package), as
any MCP client would; run by tests/mcp.rs over either transport:

    python mcp_client.py stdio FATHOM POLICY_FILE
    python mcp_client.py http URL TOKEN

The policy gives each tool call a 4-second deadline. Every check asserts
with a message; the last line printed is `all checks passed`.
"""

import json
import sys
import time

import anyio
import httpx2
from mcp import Client, MCPError, StdioServerParameters


def connect(argv):
    """A function making a new client (a new MCP session) each call."""
    if argv[1] == "stdio":
        fathom, policy = argv[2], argv[3]
        params = StdioServerParameters(command=fathom, args=["mcp", "--policy", policy, "--server", "tool-python"])
        return lambda: Client(params)
    url, token = argv[2], argv[3]
    headers = {"Authorization": f"Bearer {token}"}
    from mcp.client.streamable_http import streamable_http_client

    def make():
        http = httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60, read=120))
        return Client(streamable_http_client(url, http_client=http))

    return make


def text(result):
    return "".join(c.text for c in result.content if c.type == "text")


def check(cond, what, got=None):
    if not cond:
        raise AssertionError(f"{what}; got: {got!r}")
    print(f"ok: {what}", flush=True)


async def tools_are_listed(a):
    tools = {t.name: t for t in (await a.list_tools()).tools}
    for name in ["create_sandbox", "run_python_code", "run_command", "upload_file_from_local_to_sandbox",
                 "download_file_from_sandbox_to_local", "download_file_from_internet_to_sandbox"]:
        check(name in tools, f"tools/list has {name} under MiroFlow's name", sorted(tools))
    schema = tools["run_python_code"].input_schema
    check(set(schema["properties"]) >= {"code_block", "sandbox_id"}, "run_python_code takes code_block and sandbox_id", schema)
    check(tools["run_python_code"].description, "tools carry their descriptions")


async def state_persists(a):
    r = await a.call_tool("run_python_code", {"code_block": "x = 41"})
    check(not r.is_error, "a first cell runs", text(r))
    r = await a.call_tool("run_python_code", {"code_block": "print(x + 1)"})
    check(not r.is_error and "42" in text(r), "the second cell sees the first's variable", text(r))
    # MiroFlow's way: create a sandbox, then name it in every call.
    r = await a.call_tool("create_sandbox", {})
    sid = text(r).split()[-1]
    check(not r.is_error and sid, "create_sandbox answers with an id", text(r))
    r = await a.call_tool("run_python_code", {"code_block": "y = 'kept'", "sandbox_id": sid})
    r = await a.call_tool("run_python_code", {"code_block": "print(y)", "sandbox_id": sid})
    check("kept" in text(r), "a named sandbox keeps its own state", text(r))
    r = await a.call_tool("run_python_code", {"code_block": "print(z)", "sandbox_id": "default"})
    check(r.is_error and "NameError" in text(r), "a made-up sandbox id is a new, empty sandbox; a raise is isError",
          text(r))
    return sid


async def files_are_resources(a, sid):
    r = await a.call_tool("run_python_code", {
        "code_block": "import os\nos.makedirs('/home/user/report', exist_ok=True)\n"
        "open('/home/user/report/out.txt', 'w').write('hello from A')\nopen('/home/user/b.bin','wb').write(bytes(range(256)))",
        "sandbox_id": sid,
    })
    check(not r.is_error, "a cell writes files", text(r))
    listed = (await a.list_resources(cache_mode="refresh")).resources
    uris = {str(x.uri): x for x in listed}
    want = f"sandbox://{sid}/report/out.txt"
    check(want in uris, "resources/list shows the file a tool wrote", sorted(uris))
    check(uris[want].size == len("hello from A"), "with its size", uris[want])
    got = (await a.read_resource(want)).contents[0]
    check(got.text == "hello from A", "resources/read returns its text", got)
    got = (await a.read_resource(f"sandbox://{sid}/b.bin")).contents[0]
    import base64
    check(base64.b64decode(got.blob) == bytes(range(256)), "and a binary file as base64", got)
    for bad in [f"sandbox://{sid}/../../etc/passwd", f"sandbox://{sid}/%2e%2e/%2e%2e/etc/passwd", "file:///etc/passwd"]:
        try:
            await a.read_resource(bad)
            check(False, f"{bad} is refused")
        except MCPError as e:
            check(True, f"{bad} is refused: {e.error.message}")
    try:
        await a.read_resource(f"sandbox://{sid}/missing.txt")
        check(False, "a missing file is an error")
    except MCPError as e:
        check("no such file" in e.error.message, "a missing file is an error naming it", e.error.message)


async def clients_are_isolated(b, sid_of_a):
    r = await b.call_tool("run_python_code", {"code_block": "print(x)"})
    check(r.is_error and "NameError" in text(r), "a second client does not see the first's variables", text(r))
    r = await b.call_tool("run_python_code", {"code_block": "print(1)", "sandbox_id": sid_of_a})
    listed = [str(x.uri) for x in (await b.list_resources(cache_mode="refresh")).resources]
    check(not any("out.txt" in u for u in listed), "nor its files", listed)


async def limits_are_errors(a):
    started = time.monotonic()
    r = await a.call_tool("run_python_code", {"code_block": "import time\ntime.sleep(100)"})
    took = time.monotonic() - started
    check(r.is_error and took < 30, f"a cell past the deadline is isError, after {took:.1f} s", text(r))
    limit = (r.meta or {}).get("fathom", {}).get("limit", {})
    check(limit.get("key") == "sandbox.call_timeout_secs", "its _meta names the limit", r.meta)
    r = await a.call_tool("run_python_code", {"code_block": "print('alive')"})
    check("alive" in text(r), "the connection serves calls after it", text(r))


async def progress_is_reported(a):
    seen = []

    async def on_progress(progress, total, message):
        seen.append((progress, message))

    r = await a.call_tool("run_python_code", {"code_block": "import time\ntime.sleep(2.5)\nprint('done')"},
                          progress_callback=on_progress)
    check("done" in text(r), "a long cell finishes", text(r))
    check(len(seen) >= 1 and "running for" in (seen[0][1] or ""), "progress notifications arrive while it runs", seen)


async def cancellation_stops_the_cell(a, sid):
    code = "import time\ntime.sleep(3)\nopen('/home/user/late.txt', 'w').write('ran on')"
    with anyio.move_on_after(1):
        await a.call_tool("run_python_code", {"code_block": code, "sandbox_id": sid})
        check(False, "the call was cancelled")
    await anyio.sleep(4)
    uris = [str(x.uri) for x in (await a.list_resources(cache_mode="refresh")).resources]
    check(not any(u.endswith("/late.txt") for u in uris), "a cancelled cell stops: it never writes its file", uris)
    r = await a.call_tool("run_python_code", {"code_block": "print('after cancel')", "sandbox_id": sid})
    check("after cancel" in text(r), "the sandbox serves the next call", text(r))


async def bad_calls_are_errors(a):
    try:
        await a.call_tool("no_such_tool", {})
        check(False, "an unknown tool is an error")
    except MCPError as e:
        check("unknown tool `no_such_tool`" in e.error.message and "run_python_code" in e.error.message,
              "an unknown tool is an error listing the tools", e.error.message)
    r = await a.call_tool("run_python_code", {"cod_block": "print(1)"})
    check(r.is_error and "code_block" in text(r), "bad arguments are the tool's error, naming the argument", text(r))
    r = await a.call_tool("tool-python.run_python_code", {"code_block": "print(7)"})
    check("7" in text(r), "server.tool names resolve too", text(r))


async def main(argv):
    new_client = connect(argv)
    async with new_client() as a:
        check(a.protocol_version <= "2025-11-25", f"a session-era protocol is negotiated ({a.protocol_version})")
        await tools_are_listed(a)
        sid = await state_persists(a)
        await files_are_resources(a, sid)
        async with new_client() as b:
            await clients_are_isolated(b, sid)
        await limits_are_errors(a)
        await progress_is_reported(a)
        await cancellation_stops_the_cell(a, sid)
        await bad_calls_are_errors(a)
    print("all checks passed", flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv)
