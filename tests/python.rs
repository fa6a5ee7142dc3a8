//! The Python tool (`tool-python.run_python_code`): a conformance suite over
//! the standard library (expected outputs are CPython 3.11's), notebook
//! semantics, limits, isolation and the network/package refusals.

mod common;

use std::sync::Arc;

use fathom::runtime::{CallOutcome, Runtime, Session, SessionOptions};
use serde_json::json;

static RUNTIME: tokio::sync::OnceCell<Arc<Runtime>> = tokio::sync::OnceCell::const_new();

async fn shared_runtime() -> Arc<Runtime> {
    RUNTIME.get_or_init(common::runtime).await.clone()
}

struct Py {
    session: Session,
    sandbox: String,
}

impl Py {
    async fn new(policy: fathom::policy::Policy) -> Py {
        let session = Session::new(shared_runtime().await, SessionOptions::new(policy)).unwrap();
        let sandbox = session.call("tool-python", "create_sandbox", "{}").await.output;
        let sandbox = sandbox.rsplit(' ').next().unwrap().to_owned();
        Py { session, sandbox }
    }

    async fn default() -> Py {
        Py::new(common::policy(|_| {})).await
    }

    async fn new_sandbox(&self) -> String {
        let out = self.session.call("tool-python", "create_sandbox", "{}").await.output;
        out.rsplit(' ').next().unwrap().to_owned()
    }

    async fn run_in(&self, sandbox: &str, code: &str) -> CallOutcome {
        let args = json!({"code_block": code, "sandbox_id": sandbox}).to_string();
        self.session.call("tool-python", "run_python_code", &args).await
    }

    async fn run(&self, code: &str) -> String {
        let out = self.run_in(&self.sandbox, code).await;
        out.output
    }
}

async fn check(code: &str, expected_stdout: &str) {
    let py = Py::default().await;
    let got = py.run(code).await;
    assert_eq!(got, format!("[stdout]\n{expected_stdout}"), "code:\n{code}");
}

macro_rules! conformance {
    ($($name:ident: $code:expr => $expected:expr;)*) => {
        mod conformance {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::check($code, $expected).await;
                }
            )*
        }
    };
}

conformance! {
    json_dumps_sorted: r##"import json
print(json.dumps({"b": 1, "a": [1, 2, None, True]}, sort_keys=True))"## => r##"{"a": [1, 2, null, true], "b": 1}"##;
    json_loads_nested: r##"import json
d = json.loads('{"x": {"y": [1, 2.5, "z"]}}')
print(d["x"]["y"][1] * 2, type(d["x"]["y"][2]).__name__)"## => r##"5.0 str"##;
    json_indent: r##"import json
print(json.dumps({"k": [1, 2]}, indent=2))"## => r##"{
  "k": [
    1,
    2
  ]
}"##;
    json_roundtrip_unicode: r##"import json
s = json.dumps({"name": "Zoë ☃"})
print(s)
print(json.loads(s)["name"])"## => r##"{"name": "Zo\u00eb \u2603"}
Zoë ☃"##;
    re_findall: r##"import re
print(re.findall(r"\d+", "a1b22c333"))"## => r##"['1', '22', '333']"##;
    re_sub_groups: r##"import re
print(re.sub(r"(\w+)@(\w+)", r"\2 at \1", "alice@example bob@test"))"## => r##"example at alice test at bob"##;
    re_named_groups: r##"import re
m = re.match(r"(?P<y>\d{4})-(?P<m>\d{2})", "2024-05-17")
print(m.group("y"), m.group("m"), m.span())"## => r##"2024 05 (0, 7)"##;
    re_split_flags: r##"import re
print(re.split(r"\s*,\s*", "a , b,c ,d"))
print(bool(re.search("HELLO", "say hello", re.I)))"## => r##"['a', 'b', 'c', 'd']
True"##;
    re_fullmatch_compile: r##"import re
p = re.compile(r"[a-z]+\d?")
print([bool(p.fullmatch(s)) for s in ["abc", "abc1", "abc12", "1"]])"## => r##"[True, True, False, False]"##;
    math_basics: r##"import math
print(math.sqrt(2), math.factorial(20), math.gcd(84, 36))"## => r##"1.4142135623730951 2432902008176640000 12"##;
    math_comb_log: r##"import math
print(math.comb(52, 5), round(math.log(1000, 10), 6), math.floor(-2.5), math.ceil(2.1))"## => r##"2598960 3.0 -3 3"##;
    math_pi_format: r##"import math
print(f"{math.pi:.10f}", math.isclose(0.1 + 0.2, 0.3))"## => r##"3.1415926536 True"##;
    math_trig: r##"import math
print(round(math.sin(math.pi / 6), 12), round(math.degrees(math.atan2(1, 1)), 9), math.hypot(3, 4))"## => r##"0.5 45.0 5.0"##;
    datetime_diff: r##"from datetime import date
print((date(2024, 3, 1) - date(2024, 2, 1)).days, date(2024, 2, 29).weekday())"## => r##"29 3"##;
    datetime_strftime: r##"from datetime import datetime
d = datetime(2023, 7, 4, 15, 30, 5)
print(d.strftime("%Y-%m-%d %H:%M:%S %A %B %j"))"## => r##"2023-07-04 15:30:05 Tuesday July 185"##;
    datetime_timedelta: r##"from datetime import datetime, timedelta
d = datetime(2020, 1, 31) + timedelta(days=30, hours=25)
print(d.isoformat())"## => r##"2020-03-02T01:00:00"##;
    datetime_fromisoformat: r##"from datetime import datetime
d = datetime.fromisoformat("2021-12-25T08:15:00")
print(d.year, d.hour, d.minute, (d.replace(year=2022) - d).days)"## => r##"2021 8 15 365"##;
    calendar_leap: r##"import calendar
print(calendar.isleap(2100), [int(x) for x in calendar.monthrange(2024, 2)], calendar.leapdays(1900, 2000))"## => r##"False [3, 29] 24"##;
    collections_counter: r##"from collections import Counter
c = Counter("mississippi")
print(c.most_common(2), c["s"])"## => r##"[('i', 4), ('s', 4)] 4"##;
    collections_defaultdict: r##"from collections import defaultdict
d = defaultdict(list)
for k, v in [("a", 1), ("b", 2), ("a", 3)]:
    d[k].append(v)
print(dict(d))"## => r##"{'a': [1, 3], 'b': [2]}"##;
    collections_deque: r##"from collections import deque
q = deque([1, 2, 3, 4, 5], maxlen=5)
q.rotate(2)
q.append(6)
print(list(q))"## => r##"[5, 1, 2, 3, 6]"##;
    collections_namedtuple: r##"from collections import namedtuple
P = namedtuple("P", "x y")
p = P(3, 4)
print(p, p._asdict(), p.x + p.y)"## => r##"P(x=3, y=4) {'x': 3, 'y': 4} 7"##;
    collections_ordereddict: r##"from collections import OrderedDict
d = OrderedDict(a=1, b=2, c=3)
d.move_to_end("a")
print(list(d))"## => r##"['b', 'c', 'a']"##;
    csv_writer_reader: r##"import csv, io
buf = io.StringIO()
w = csv.writer(buf)
w.writerow(["name", "note"])
w.writerow(["Ann", "says \"hi\", then, leaves"])
text = buf.getvalue()
print(repr(text))
print(list(csv.reader(io.StringIO(text))))"## => r##"'name,note\r\nAnn,"says ""hi"", then, leaves"\r\n'
[['name', 'note'], ['Ann', 'says "hi", then, leaves']]"##;
    csv_dictreader: r##"import csv, io
rows = list(csv.DictReader(io.StringIO("a,b\n1,2\n3,4\n")))
print(rows, sum(int(r["b"]) for r in rows))"## => r##"[{'a': '1', 'b': '2'}, {'a': '3', 'b': '4'}] 6"##;
    statistics_basics: r##"import statistics as s
xs = [2, 4, 4, 4, 5, 5, 7, 9]
print(s.mean(xs), s.median(xs), s.mode(xs), s.pstdev(xs))"## => r##"5 4.5 4 2.0"##;
    statistics_stdev: r##"import statistics as s
print(round(s.stdev([1.5, 2.5, 2.5, 2.75, 3.25, 4.75]), 10), s.median_low([1, 3, 5, 7]))"## => r##"1.0810874155 3"##;
    itertools_combinatorics: r##"import itertools as it
print(len(list(it.permutations(range(5), 3))), list(it.combinations("abc", 2)))"## => r##"60 [('a', 'b'), ('a', 'c'), ('b', 'c')]"##;
    itertools_product_accumulate: r##"import itertools as it
print(list(it.product([0, 1], repeat=2)), list(it.accumulate([1, 2, 3, 4])))"## => r##"[(0, 0), (0, 1), (1, 0), (1, 1)] [1, 3, 6, 10]"##;
    itertools_groupby_chain: r##"import itertools as it
print([(k, len(list(g))) for k, g in it.groupby("aaabccdd")], list(it.chain([1], (2, 3))))"## => r##"[('a', 3), ('b', 1), ('c', 2), ('d', 2)] [1, 2, 3]"##;
    itertools_islice_count: r##"import itertools as it
print(list(it.islice(it.count(10, 5), 4)), list(it.zip_longest("ab", "xyz", fillvalue="-")))"## => r##"[10, 15, 20, 25] [('a', 'x'), ('b', 'y'), ('-', 'z')]"##;
    fractions_sum: r##"from fractions import Fraction as F
print(sum(F(1, n) for n in range(1, 11)))"## => r##"7381/2520"##;
    fractions_limit: r##"from fractions import Fraction as F
import math
print(F(math.pi).limit_denominator(1000), F("0.125"), F(3, 4) ** 2)"## => r##"355/113 1/8 9/16"##;
    decimal_precision: r##"from decimal import Decimal, getcontext
getcontext().prec = 30
print(Decimal(1) / Decimal(7))"## => r##"0.142857142857142857142857142857"##;
    decimal_quantize: r##"from decimal import Decimal, ROUND_HALF_UP
print(Decimal("2.675").quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), Decimal("0.1") + Decimal("0.2"))"## => r##"2.68 0.3"##;
    random_seeded: r##"import random
random.seed(42)
print(random.random(), random.randint(1, 100), random.choice("abcdef"))"## => r##"0.6394267984578837 4 f"##;
    random_shuffle_seeded: r##"import random
r = random.Random(7)
xs = list(range(10))
r.shuffle(xs)
print(xs, r.sample(range(100), 3))"## => r##"[8, 3, 1, 4, 7, 0, 9, 6, 2, 5] [64, 27, 4]"##;
    hashlib_sha256_md5: r##"import hashlib
print(hashlib.sha256(b"fathom").hexdigest())
print(hashlib.md5(b"fathom").hexdigest())"## => r##"a663a6e8a46ccc0de36b1dc649feb50d062cc17235adec49c2af2b2be5f06125
6bcf4d1d6c35a2eb2e3108c85ae32f05"##;
    hashlib_sha1_blake2: r##"import hashlib
print(hashlib.sha1(b"abc").hexdigest(), hashlib.sha512(b"").hexdigest()[:16])"## => r##"a9993e364706816aba3e25717850c26c9cd0d89d cf83e1357eefb8bd"##;
    io_stringio_bytesio: r##"import io
s = io.StringIO()
s.write("line1\nline2\n")
s.seek(0)
print(s.readlines())
b = io.BytesIO(b"\x00\x01\x02")
print(b.read(2), b.tell())"## => r##"['line1\n', 'line2\n']
b'\x00\x01' 2"##;
    base64_roundtrip: r##"import base64
e = base64.b64encode(b"research agent")
print(e, base64.b64decode(e), base64.urlsafe_b64encode(b"\xff\xfe"))"## => r##"b'cmVzZWFyY2ggYWdlbnQ=' b'research agent' b'__4='"##;
    zlib_struct: r##"import zlib, struct
d = zlib.compress(b"a" * 1000)
print(len(zlib.decompress(d)), zlib.crc32(b"fathom"), struct.pack("<IhB", 1, -2, 3), struct.unpack(">H", b"\x01\x02"))"## => r##"1000 3099776199 b'\x01\x00\x00\x00\xfe\xff\x03' (258,)"##;
    fstring_formats: r##"x = 1234567.891
print(f"{x:,.2f}|{x:>15.1f}|{x:e}|{255:#x}|{255:08b}|{0.25:.1%}")"## => r##"1,234,567.89|      1234567.9|1.234568e+06|0xff|11111111|25.0%"##;
    percent_and_format: r##"print("%s has %d items costing %.2f" % ("cart", 3, 9.5))
print("{0}-{1}-{0}".format("a", "b"), "{:^9}".format("mid"), "7".zfill(3))"## => r##"cart has 3 items costing 9.50
a-b-a    mid    007"##;
    string_methods: r##"import string
s = "  Hello, World  "
print(s.strip().lower().replace("world", "there"), s.split(","), string.ascii_lowercase[:5], "a-b-c".rsplit("-", 1))"## => r##"hello, there ['  Hello', ' World  '] abcde ['a-b', 'c']"##;
    unicode_text: r##"s = "naïve café 😀"
print(len(s), s.upper(), s.encode("utf-8")[:6], s[::-1][:3])"## => r##"12 NAÏVE CAFÉ 😀 b'na\xc3\xafve' 😀 é"##;
    textwrap_difflib: r##"import textwrap, difflib
print(textwrap.wrap("the quick brown fox jumps over the lazy dog", 12))
print(list(difflib.unified_diff(["a", "b"], ["a", "c"], lineterm="")))"## => r##"['the quick', 'brown fox', 'jumps over', 'the lazy dog']
['--- ', '+++ ', '@@ -1,2 +1,2 @@', ' a', '-b', '+c']"##;
    classes_inheritance: r##"class Animal:
    def __init__(self, name):
        self.name = name
    def speak(self):
        return "..."
    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"
class Dog(Animal):
    def speak(self):
        return "woof"
print([ (a, a.speak()) for a in [Animal("x"), Dog("rex")]])"## => r##"[(Animal('x'), '...'), (Dog('rex'), 'woof')]"##;
    classes_dataclass: r##"from dataclasses import dataclass, field, asdict
@dataclass(order=True)
class Item:
    price: float
    name: str = field(compare=False)
    tags: list = field(default_factory=list)
items = sorted([Item(3.5, "b"), Item(1.25, "a")])
print(items[0], asdict(items[1]))"## => r##"Item(price=1.25, name='a', tags=[]) {'price': 3.5, 'name': 'b', 'tags': []}"##;
    classes_properties_dunder: r##"class V:
    def __init__(self, x, y):
        self.x, self.y = x, y
    def __add__(self, o):
        return V(self.x + o.x, self.y + o.y)
    def __eq__(self, o):
        return (self.x, self.y) == (o.x, o.y)
    @property
    def norm2(self):
        return self.x ** 2 + self.y ** 2
    @classmethod
    def zero(cls):
        return cls(0, 0)
v = V(1, 2) + V(3, 4)
print(v.x, v.y, v.norm2, V.zero() == V(0, 0))"## => r##"4 6 52 True"##;
    enum_and_typing: r##"from enum import Enum, auto
from typing import NamedTuple
class Color(Enum):
    RED = auto()
    GREEN = auto()
class Pt(NamedTuple):
    x: int
    y: int = 0
print(Color.GREEN, Color.GREEN.value, [c.name for c in Color], Pt(1))"## => r##"Color.GREEN 2 ['RED', 'GREEN'] Pt(x=1, y=0)"##;
    generators_yield: r##"def fib():
    a, b = 0, 1
    while True:
        yield a
        a, b = b, a + b
g = fib()
print([next(g) for _ in range(12)])"## => r##"[0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89]"##;
    generators_send_expr: r##"def acc():
    total = 0
    while True:
        x = yield total
        total += x
g = acc()
next(g)
print(g.send(5), g.send(10), sum(x * x for x in range(10)))"## => r##"5 15 285"##;
    generators_yield_from: r##"def inner():
    yield 1
    yield 2
    return "done"
def outer():
    r = yield from inner()
    yield r
print(list(outer()))"## => r##"[1, 2, 'done']"##;
    exceptions_handling: r##"def f(x):
    try:
        return 10 / x
    except ZeroDivisionError as e:
        return f"caught {type(e).__name__}: {e}"
    finally:
        print("finally", x)
print(f(2))
print(f(0))"## => r##"finally 2
5.0
finally 0
caught ZeroDivisionError: division by zero"##;
    exceptions_custom_chain: r##"class AppError(Exception):
    pass
try:
    try:
        int("x")
    except ValueError as e:
        raise AppError("bad input") from e
except AppError as e:
    print(repr(e), type(e.__cause__).__name__)"## => r##"AppError('bad input') ValueError"##;
    exceptions_else_context: r##"import contextlib
with contextlib.suppress(KeyError):
    {}["k"]
try:
    pass
except Exception:
    print("no")
else:
    print("else ran")"## => r##"else ran"##;
    bigint_arithmetic: r##"print(2 ** 100, 123456789 * 987654321, (10 ** 30 + 7) % 97, pow(3, 200, 1000007))"## => r##"1267650600228229401496703205376 121932631112635269 92 959082"##;
    comprehensions_sorting: r##"words = ["banana", "Apple", "cherry", "date"]
print(sorted(words, key=str.lower), {w: len(w) for w in words if len(w) > 4}, sorted(words, key=len, reverse=True)[0])"## => r##"['Apple', 'banana', 'cherry', 'date'] {'banana': 6, 'Apple': 5, 'cherry': 6} banana"##;
    builtins_mix: r##"print(list(zip("abc", range(3))), list(enumerate("xy", 1)), divmod(17, 5), round(2.5), round(3.5), abs(-3), min([4, 2, 8]), any([0, 1]), all([]))"## => r##"[('a', 0), ('b', 1), ('c', 2)] [(1, 'x'), (2, 'y')] (3, 2) 2 4 3 2 True True"##;
    heapq_bisect: r##"import heapq, bisect
h = [5, 1, 8, 3]
heapq.heapify(h)
print(heapq.nsmallest(2, h), heapq.heappop(h), bisect.bisect_left([1, 3, 5, 7], 5))"## => r##"[1, 3] 1 2"##;
    functools_tools: r##"import functools, operator
@functools.lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
print(fib(90), functools.reduce(operator.mul, range(1, 11)), functools.partial(int, base=2)("1010"))"## => r##"2880067194370816120 3628800 10"##;
    sets_and_dicts: r##"a, b = {1, 2, 3}, {2, 3, 4}
print(sorted(a | b), sorted(a & b), sorted(a ^ b))
d = {"x": 1}
d.update(y=2)
print(d.get("z", 0), sorted(d.items()), {**d, "x": 9})"## => r##"[1, 2, 3, 4] [2, 3] [1, 4]
0 [('x', 1), ('y', 2)] {'x': 9, 'y': 2}"##;
    walrus_match: r##"data = [3, 8, 1]
if (n := len(data)) > 2:
    print("long", n)
def kind(v):
    match v:
        case {"type": "point", "x": x}:
            return f"point {x}"
        case [a, b]:
            return f"pair {a},{b}"
        case _:
            return "other"
print(kind({"type": "point", "x": 5}), kind([1, 2]), kind(3))"## => r##"long 3
point 5 pair 1,2 other"##;
    urllib_parse: r##"from urllib.parse import urlparse, urlencode, quote, parse_qs
u = urlparse("https://example.org/a/b?x=1&y=two#frag")
print(u.netloc, u.path, parse_qs(u.query), urlencode({"q": "a b"}), quote("a/b c"))"## => r##"example.org /a/b {'x': ['1'], 'y': ['two']} q=a+b a/b%20c"##;
    html_and_xml: r##"import html
import xml.etree.ElementTree as ET
print(html.escape("<a href='x'>&</a>"), html.unescape("&lt;&amp;&gt;"))
root = ET.fromstring("<r><i n='1'>a</i><i n='2'>b</i></r>")
print([(i.get("n"), i.text) for i in root.iter("i")])"## => r##"&lt;a href=&#x27;x&#x27;&gt;&amp;&lt;/a&gt; <&>
[('1', 'a'), ('2', 'b')]"##;
    array_and_bytes: r##"import array
a = array.array("i", [1, 2, 3])
a.append(4)
print(a.tolist(), bytes([72, 105]).decode(), bytearray(b"abc").upper(), (1024).to_bytes(2, "big"), int.from_bytes(b"\x01\x00", "little"))"## => r##"[1, 2, 3, 4] Hi bytearray(b'ABC') b'\x04\x00' 1"##;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_component_is_snapshotted_and_the_snapshot_cached() {
    shared_runtime().await;
    let again = common::runtime().await;
    let python = again.components().into_iter().find(|c| c.path.ends_with("python.wasm")).unwrap();
    assert!(python.stateful && python.snapshotted && python.cached, "{python:?}");
}

// ---- notebook semantics ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn variables_functions_and_imports_persist_between_calls() {
    let py = Py::default().await;
    assert!(py.run("x = 41\nimport json\ndef double(v):\n    return 2 * v").await.starts_with("[no output]"));
    assert_eq!(py.run("x + 1").await, "[result]\n42");
    assert_eq!(py.run("print(json.dumps(double(x)))\ndouble(0.5)").await, "[stdout]\n82\n[result]\n1.0");
    assert_eq!(py.run("import os\nos.getcwd()").await, "[result]\n'/home/user'");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_show_the_traceback_and_keep_the_session() {
    let py = Py::default().await;
    py.run("y = 7").await;
    let out = py.run("def f():\n    return 1 / 0\nprint('before')\nf()").await;
    assert!(out.starts_with("[stdout]\nbefore\n[error]\nTraceback (most recent call last):"), "{out}");
    assert!(out.contains("line 2, in f") && out.ends_with("ZeroDivisionError: division by zero"), "{out}");
    assert!(!out.contains("_fathom") && !out.contains("prelude"), "driver frames leak: {out}");
    let out = py.run("print('unclosed'").await;
    assert!(out.starts_with("[error]\n") && out.contains("SyntaxError"), "{out}");
    let out = py.run("import sys\nprint('to stderr', file=sys.stderr)\nsys.exit(3)").await;
    assert!(out.contains("[stderr]\nto stderr") && out.contains("SystemExit: 3"), "{out}");
    assert_eq!(py.run("y").await, "[result]\n7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_shared_with_the_file_tools() {
    let data = tempfile::tempdir().unwrap();
    let root = data.path().canonicalize().unwrap();
    std::fs::write(root.join("input.csv"), "n\n3\n4\n").unwrap();
    let outputs = tempfile::tempdir().unwrap();
    let mut opts = SessionOptions::new(common::policy(|p| p.files.local_roots = vec![root.clone()]));
    opts.outputs = Some(outputs.path().to_path_buf());
    let session = Session::new(shared_runtime().await, opts).unwrap();
    let sb = session.call("tool-python", "create_sandbox", "{}").await.output.rsplit(' ').next().unwrap().to_owned();
    let upload = json!({"sandbox_id": sb, "local_file_path": root.join("input.csv")}).to_string();
    let out = session.call("tool-python", "upload_file_from_local_to_sandbox", &upload).await;
    assert!(out.ok, "{}", out.output);
    let code = "import csv, pathlib\nrows = list(csv.DictReader(open('input.csv')))\ntotal = sum(int(r['n']) for r in rows)\npathlib.Path('out/total.txt').parent.mkdir()\npathlib.Path('/home/user/out/total.txt').write_text(str(total))\ntotal";
    let run = json!({"sandbox_id": sb, "code_block": code}).to_string();
    assert_eq!(session.call("tool-python", "run_python_code", &run).await.output, "[result]\n7");
    let download = json!({"sandbox_id": sb, "sandbox_file_path": "out/total.txt"}).to_string();
    let out = session.call("tool-python", "download_file_from_sandbox_to_local", &download).await;
    assert!(out.ok, "{}", out.output);
    assert_eq!(std::fs::read_to_string(outputs.path().join("total.txt")).unwrap(), "7");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tempfile_and_random_are_per_sandbox() {
    let py = Py::default().await;
    let out = py.run("import tempfile, os\nwith tempfile.NamedTemporaryFile('w', delete=False) as f:\n    f.write('t')\nprint(f.name.startswith('/tmp/'), os.path.exists(f.name))").await;
    assert_eq!(out, "[stdout]\nTrue True");
    let other = py.new_sandbox().await;
    let code = "import random\nrandom.random()";
    let a = py.run(code).await;
    let b = py.run_in(&other, code).await.output;
    assert!(a.starts_with("[result]\n0.") && a != b, "{a} vs {b}");
}

// ---- limits ----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_and_the_session_replaced() {
    let py = Py::new(common::policy(|p| p.sandbox.call_timeout_secs = 1.0)).await;
    py.run("x = 1").await;
    let out = py.run_in(&py.sandbox, "while True:\n    pass").await;
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.call_timeout_secs", "{}", out.output);
    assert!(out.output.contains("its state (variables, working directory) is gone"), "{}", out.output);
    let out = py.run("x").await;
    assert!(out.contains("NameError: name 'x' is not defined"), "{out}");
    assert_eq!(py.run("1 + 1").await, "[result]\n2");

    let py = Py::new(common::policy(|p| p.sandbox.call_fuel = 5_000_000_000)).await;
    let out = py.run_in(&py.sandbox, "n = 0\nwhile True:\n    n += 1").await;
    assert_eq!(out.limit.as_ref().unwrap().key, "sandbox.call_fuel", "{}", out.output);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_growth_is_stopped() {
    let py = Py::new(common::policy(|p| p.sandbox.memory_mb = 256)).await;
    let out = py.run_in(&py.sandbox, "a = []\nwhile True:\n    a.append(bytearray(1 << 20))").await;
    let stopped_by_cap = out.limit.as_ref().is_some_and(|l| l.key == "sandbox.memory_mb");
    let python_error = out.output.contains("MemoryError");
    assert!(stopped_by_cap || python_error, "{}", out.output);
    // In a new session, one huge allocation is refused to Python, which
    // carries on.
    let fresh = py.new_sandbox().await;
    let out = py
        .run_in(
            &fresh,
            "try:\n    b = bytearray(10**9)\nexcept MemoryError:\n    print('refused')\nlen(bytearray(10**7))",
        )
        .await;
    assert!(
        out.output.starts_with("[stdout]\nrefused\n[result]\n10000000\n[ERROR]: an allocation was refused"),
        "{}",
        out.output
    );
    assert_eq!(out.limit.as_ref().map(|l| l.key), Some("sandbox.memory_mb"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_and_errors_are_cut_with_the_protocol_markers() {
    let py = Py::default().await;
    let out = py.run("for i in range(100000):\n    print(i)").await;
    assert!(out.ends_with("\n... [Result truncated due to length limit]"), "{}", &out[out.len() - 80..]);
    assert!(out.len() < 20_100, "{}", out.len());
    let out = py.run("'z' * 50000").await;
    assert!(out.ends_with("[Result truncated due to length limit]") && out.len() < 20_100);
    let out = py.run("raise ValueError('e' * 10000)").await;
    assert!(out.ends_with("[Error truncated due to length limit]") && out.len() < 4_100, "{}", out.len());
}

// ---- isolation ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_sessions_side_by_side_do_not_interfere() {
    let py = Py::new(common::policy(|p| p.sandbox.max_sandboxes = 101)).await;
    let py = Arc::new(py);
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(py.new_sandbox().await);
    }
    let mut tasks = Vec::new();
    for (i, id) in ids.iter().cloned().enumerate() {
        let py = py.clone();
        tasks.push(tokio::spawn(async move {
            let out = py.run_in(&id, &format!("v = {i}\nopen('mine.txt', 'w').write(str(v))")).await;
            assert!(out.ok, "{}", out.output);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for (i, id) in ids.iter().enumerate() {
        let out = py.run_in(id, "v, open('mine.txt').read(), sorted(__import__('os').listdir('.'))").await;
        assert_eq!(out.output, format!("[result]\n({i}, '{i}', ['mine.txt'])"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_network_and_no_packages_with_pointers_to_the_right_tools() {
    let py = Py::default().await;
    let out = py.run("import urllib.request\nurllib.request.urlopen('http://example.com')").await;
    assert!(out.contains("scrape_and_extract_info") && out.contains("download_file_from_internet_to_sandbox"), "{out}");
    let out = py.run("import socket\nsocket.create_connection(('example.com', 80))").await;
    assert!(out.contains("no network access") && out.contains("scrape_and_extract_info"), "{out}");
    let out = py.run("import http.client\nhttp.client.HTTPConnection('example.com').request('GET', '/')").await;
    assert!(out.contains("scrape_and_extract_info"), "{out}");
    let out = py.run("import requests").await;
    assert!(out.contains("No module named 'requests'") && out.contains("cannot be installed"), "{out}");
    let out = py.run("!pip install numpy").await;
    assert!(out.contains("run_command") && out.contains("cannot be installed"), "{out}");
    let out = py.run("open('/etc/passwd').read()").await;
    assert!(out.contains("[error]") && !out.contains("root:"), "{out}");
    let out = py.run("import os\nsorted(os.environ)").await;
    assert_eq!(out, "[result]\n['HOME', 'PWD', 'TMPDIR']");
}
