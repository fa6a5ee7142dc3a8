# Fathom's notebook driver for RustPython. Runs once per interpreter, before
# any snapshot; `_run` executes one cell. Names start with `_` and live in
# their own module, out of the user's globals.
import sys, io, os, traceback, types

OUT_LIMIT = 20000
ERR_LIMIT = 4000
OUT_MARK = "\n... [Result truncated due to length limit]"
ERR_MARK = "\n... [Error truncated due to length limit]"
WORKSPACE = "/home/user"
# No __pycache__ folders in the workspace: they count against its quota,
# clutter what `ls` shows, and a helper edited within the same second at
# the same size would be served stale from them.
sys.dont_write_bytecode = True

NO_NETWORK = (
    "There is no network access from Python in this sandbox. To read a web page, use the "
    "scrape_and_extract_info tool; to fetch a file, use download_file_from_internet_to_sandbox "
    "and then open it from /home/user."
)
NO_PACKAGES = (
    "Packages cannot be installed in this sandbox (there is no pip and no network). "
    "Use the Python standard library: json, re, math, statistics, fractions, decimal, "
    "datetime, collections, itertools, functools, csv, pathlib, os, hashlib, base64, "
    "random, string, textwrap, difflib, unicodedata, zlib, gzip, zipfile, tarfile, "
    "html, xml, urllib.parse, dataclasses, typing, heapq, bisect, array, struct."
)


class NetworkDisabled(OSError):
    pass


def _refuse(*args, **kwargs):
    raise NetworkDisabled(NO_NETWORK)


class _Socket:
    def __init__(self, *args, **kwargs):
        _refuse()


def _socket_module():
    # Stands in for `socket`, so that urllib, http.client and friends import
    # fine and fail with a useful message when they try to connect.
    m = types.ModuleType("socket", "Network access is disabled in this sandbox.")
    m.socket = m.SocketType = _Socket
    m.error = OSError
    m.timeout = TimeoutError
    m.gaierror = m.herror = NetworkDisabled
    m.has_ipv6 = False
    m._GLOBAL_DEFAULT_TIMEOUT = object()
    for name in ("create_connection", "create_server", "getaddrinfo", "gethostbyname",
                 "gethostbyname_ex", "gethostbyaddr", "getnameinfo", "socketpair", "fromfd"):
        setattr(m, name, _refuse)
    m.gethostname = lambda: "sandbox"
    m.getfqdn = lambda name="": "sandbox"
    m.getdefaulttimeout = lambda: None
    m.setdefaulttimeout = lambda t: None

    def __getattr__(name):
        if name.isupper():
            return 0  # address families, option constants
        return _refuse
    m.__getattr__ = __getattr__
    return m


sys.modules["socket"] = _socket_module()
sys.modules["_socket"] = sys.modules["socket"]


class _MissingModules:
    # Last on sys.meta_path: only asked about modules nothing else found.
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if path is None and not name.startswith("_"):
            raise ModuleNotFoundError("No module named %r. %s" % (name, NO_PACKAGES), name=name)
        return None


sys.meta_path.append(_MissingModules)


class _Capture(io.TextIOBase):
    """A text stream that keeps the first `limit` characters and counts the rest."""

    def __init__(self, limit):
        self._parts = []
        self._n = 0
        self._limit = limit
        self.dropped = 0

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        room = self._limit - self._n
        if len(s) <= room:
            self._parts.append(s)
            self._n += len(s)
        else:
            if room > 0:
                self._parts.append(s[:room])
                self._n += room
            self.dropped += len(s) - max(room, 0)
        return len(s)

    def flush(self):
        pass

    def getvalue(self):
        return "".join(self._parts)


def _cut(text, limit, mark):
    return text if len(text) <= limit else text[:limit] + mark


def _format_error(e, skip_frames):
    tb = e.__traceback__
    for _ in range(skip_frames):
        if tb is not None:
            tb = tb.tb_next
    if isinstance(e, SyntaxError):
        lines = traceback.format_exception_only(type(e), e)
    else:
        lines = traceback.format_exception(type(e), e, tb)
    return "".join(lines).rstrip("\n")


def refresh():
    # Per-sandbox state a snapshot must not share: working directory, temp
    # folder, random seeds.
    os.chdir(WORKSPACE)
    tmp = os.environ.get("TMPDIR")
    if tmp and not os.path.isdir(tmp):
        os.makedirs(tmp, exist_ok=True)
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None
    if "random" in sys.modules:
        # Explicitly from the host's entropy: the argument-less seed() may
        # draw on state frozen into the snapshot. An int, not bytes: a bytes
        # seed imports hashlib (about 1 ms here) to hash itself first.
        sys.modules["random"].seed(int.from_bytes(os.urandom(32), "big"))


def warm(code, split):
    """What a first call does that needs no sandbox, done ahead: `refresh`'s
    steps minus the working directory (a pooled instance has no workspace
    yet), then the throwaway cell `code` in globals of its own. Everything it changes
    is redone by `refresh` on the first real call (the random seed) or lives
    only in the throwaway globals."""
    os.path.isdir(os.environ.get("TMPDIR") or "/tmp")
    if "random" in sys.modules:
        sys.modules["random"].seed(0)
    os.getcwd()
    return run(code, split, new_globals())


def new_globals():
    return {"__name__": "__main__", "__builtins__": __builtins__}


def run(code, split, g):
    """Run one cell in globals `g`; return the observation text.

    `split` is where the cell's trailing expression starts (in characters),
    or -1 when it has none: the host finds it with RustPython's parser, which
    costs far less than building an `ast` tree per cell.
    """
    out = _Capture(OUT_LIMIT)
    err = _Capture(ERR_LIMIT)
    result = None
    error = None
    first = next((l.strip() for l in code.splitlines() if l.strip()), "")
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        if first.startswith(("!", "%")):
            error = ("Shell and magic commands (lines starting with ! or %) do not run in Python here; "
                     "use the run_command tool for shell commands. " + NO_PACKAGES)
        else:
            head, tail = (code, None) if split < 0 else (code[:split], code[split:])
            try:
                body = compile(head, "<cell>", "exec")
                # Padded so the expression keeps its line number in tracebacks.
                last = None if tail is None else compile("\n" * head.count("\n") + tail, "<cell>", "eval")
            except (SyntaxError, ValueError) as e:
                error = _format_error(e, 0)
            else:
                try:
                    exec(body, g)
                    if last is not None:
                        value = eval(last, g)
                        if value is not None:
                            result = repr(value)
                except BaseException as e:
                    error = _format_error(e, 1)
    finally:
        sys.stdout, sys.stderr = saved

    parts = []
    o = out.getvalue()
    if o or out.dropped:
        parts.append("[stdout]\n" + o.rstrip("\n") + (OUT_MARK if out.dropped else ""))
    e = err.getvalue()
    if e or err.dropped:
        parts.append("[stderr]\n" + e.rstrip("\n") + (ERR_MARK if err.dropped else ""))
    if result is not None:
        parts.append("[result]\n" + _cut(result, OUT_LIMIT, OUT_MARK))
    if error is not None:
        parts.append("[error]\n" + _cut(error, ERR_LIMIT, ERR_MARK))
    if not parts:
        return "[no output] The code ran; print() values or end the cell with an expression to see them."
    text = "\n".join(parts)
    # The whole observation, headers included, stays within the limit.
    if len(text) > OUT_LIMIT:
        text = text[: OUT_LIMIT - len(OUT_MARK)] + OUT_MARK
    return text


class _Bytes(io.TextIOBase):
    """A text stream collecting everything as one string (a process's stdout)."""

    def __init__(self):
        self._parts = []

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        self._parts.append(s)
        return len(s)

    def flush(self):
        pass

    def getvalue(self):
        return "".join(self._parts)


def script(mode, target, argv, stdin, cwd, env):
    """`python3` run from the shell: a program as its own `__main__`, in a
    fresh namespace of the same interpreter (the notebook's globals are not
    touched). `mode` is "c" (code), "file" (a path) or "m" (a module).
    Returns (stdout, stderr, exit code), like a process."""
    out, err = _Bytes(), _Bytes()
    saved = sys.stdout, sys.stderr, sys.stdin, sys.argv[:], os.getcwd(), dict(os.environ), sys.path[:]
    modules_before = set(sys.modules)
    code = 0
    try:
        os.chdir(cwd)
        os.environ.update(env)
        sys.stdout, sys.stderr, sys.stdin = out, err, io.StringIO(stdin)
        sys.argv = list(argv)
        # As CPython: a script imports modules next to it; -c and -m import
        # from the working directory.
        here = os.path.dirname(os.path.abspath(target)) if mode == "file" else os.getcwd()
        sys.path.insert(0, here)
        try:
            if mode == "m":
                import runpy
                runpy.run_module(target, run_name="__main__", alter_sys=True)
            else:
                if mode == "file":
                    try:
                        with open(target, encoding="utf-8") as f:
                            source = f.read()
                    except OSError as e:
                        why = ("[Errno 2] No such file or directory" if isinstance(e, FileNotFoundError)
                               else "[Errno 21] Is a directory" if isinstance(e, IsADirectoryError) else str(e))
                        err.write("python3: can't open file %r: %s\n" % (os.path.join(cwd, target), why))
                        return "", err.getvalue(), 2
                    name = target
                else:
                    source, name = target, "<string>"
                g = {"__name__": "__main__", "__builtins__": __builtins__, "__file__": name}
                exec(compile(source, name, "exec"), g)
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                err.write(str(e.code) + "\n")
                code = 1
        except BaseException as e:
            err.write(_format_error(e, 1) + "\n")
            code = 1
    finally:
        sys.stdout, sys.stderr, sys.stdin, sys.argv = saved[0], saved[1], saved[2], saved[3]
        sys.path[:] = saved[6]
        # Like a process that ends: the sandbox's own modules imported by the
        # script are forgotten, so an edited helper is read afresh next time.
        for name in set(sys.modules) - modules_before:
            f = getattr(sys.modules.get(name), "__file__", None) or ""
            if f.startswith((WORKSPACE, "/tmp")):
                del sys.modules[name]
        os.environ.clear()
        os.environ.update(saved[5])
        try:
            os.chdir(saved[4])
        except OSError:
            os.chdir(WORKSPACE)
    return out.getvalue(), err.getvalue(), code


# Imported now, so that with a snapshot they cost nothing in a session.
# `random` is left out on purpose: its seed would be frozen into the snapshot
# (modules that import it are reseeded in `refresh`).
import json, re, math, datetime, collections, itertools, csv, fractions, decimal, functools, pathlib, string, textwrap
import statistics

# Everything made so far lives as long as the interpreter. Collect once and
# freeze it out of the cycle collector: otherwise the first collection in
# every session walks (and so writes to) the whole snapshotted heap, turning
# shared copy-on-write pages into private copies.
import gc
gc.collect()
gc.freeze()
