"""The runtime cost of the exported policies' CEL, measured as the API server measures it.

The API server stops an expression whose runtime cost passes `PerCallLimit` (1,000,000) and a
policy binding's evaluation when its expressions together pass `RuntimeCELCostBudget`
(10,000,000); matchConditions have their own `RuntimeCELCostBudgetMatchConditions` (2,500,000)
(k8s.io/apiserver/pkg/apis/cel/config.go). Each variable is a program of its own with its own
limit, and its cost counts toward the binding's budget once, when first read
(admission/plugin/cel/composition.go).

The CEL library the parity tests use computes no cost, so this module evaluates the
expressions again with a small CEL interpreter that counts cost by cel-go's runtime rules
(interpreter/runtimecost.go, with the Kubernetes library's costs of
k8s.io/apiserver/pkg/cel/library/cost.go and `has()` free, as the API server configures it):

- an identifier, a field selection or an index: 1; a constant: 0;
- a call: 1, except string equality and ordering (`ceil(0.1 * min size)`), string
  concatenation (`ceil(0.1 * (m + n))`), `matches` (`ceil(0.1 * (1 + size)) * ceil(0.25 *
  pattern size)`), `contains` (`ceil(0.1 * m) * ceil(0.1 * n)`), `startsWith`/`endsWith`
  (`ceil(0.1 * size)`), `in` a list (its size), `lowerAscii`/`trim`/`substring`
  (`ceil(0.1 * size)`), `replace`/`split` (`ceil(0.2 * size)`), `join` (`ceil(0.2 * result
  size)`), `sum`/`indexOf`/`lastIndexOf` (the traversal of the receiver);
- `&&`, `||` and `? :` nothing of their own;
- a list literal 10, a map literal 30, a `JSONPatch{...}` 40;
- the macros as cel-go expands them: `all`/`exists` test `@not_strictly_false` before each
  step (2, 3 with `exists`' negation) and read the accumulator (1); `map` adds a one-item list
  to the accumulator (12 per item); `filter` does so for the items it keeps (13) and reads the
  accumulator for the others (1).

It is a model of cel-go's accounting written from those sources, not cel-go itself; it also
evaluates, and the tests check its values against the CEL library's, so the two
implementations keep each other honest.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import re2

PER_CALL_LIMIT = 1_000_000
RUNTIME_BUDGET = 10_000_000
MATCH_CONDITIONS_BUDGET = 2_500_000

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+u?)
    | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:.,\[\](){}])
    )""",
    re.VERBOSE | re.DOTALL,
)


class CelError(Exception):
    pass


@dataclass(frozen=True)
class TypeValue:
    name: str


TYPES = {n: TypeValue(n) for n in ("map", "list", "string", "int", "uint", "double", "bool")}
TYPES["null_type"] = TypeValue("null_type")


def type_of(value: Any) -> TypeValue:
    if value is None:
        return TYPES["null_type"]
    if isinstance(value, bool):
        return TYPES["bool"]
    if isinstance(value, int):
        return TYPES["int"]
    if isinstance(value, float):
        return TYPES["double"]
    if isinstance(value, str):
        return TYPES["string"]
    if isinstance(value, list):
        return TYPES["list"]
    if isinstance(value, dict):
        return TYPES["map"]
    if isinstance(value, TypeValue):
        return TypeValue("type")
    raise CelError(f"no CEL type for {value!r}")


def _unescape(text: str) -> str:
    if text[0] == '"':
        return str(json.loads(text))
    body = text[1:-1]
    return str(json.loads('"' + body.replace("\\'", "'").replace('"', '\\"') + '"'))


def tokenize(source: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    source = source.rstrip()
    while pos < len(source):
        found = _TOKEN.match(source, pos)
        if not found or found.end() == pos:
            raise CelError(f"cannot read {source[pos : pos + 20]!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        pos = found.end()
    return tokens


Node = tuple[Any, ...]


class Parser:
    def __init__(self, source: str) -> None:
        self.tokens = tokenize(source)
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def take(self, want: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.i]
        if want is not None and token[1] != want:
            raise CelError(f"expected {want!r}, got {token[1]!r}")
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.expr()
        if self.i != len(self.tokens):
            raise CelError(f"unexpected {self.peek()!r}")
        return node

    def expr(self) -> Node:
        cond = self.binary(0)
        if self.peek() == "?":
            self.take()
            yes = self.binary(0)
            self.take(":")
            return ("?", cond, yes, self.expr())
        return cond

    LEVELS = (
        ("||",),
        ("&&",),
        ("==", "!=", "<", "<=", ">", ">=", "in"),
        ("+", "-"),
        ("*", "/", "%"),
    )

    def binary(self, level: int) -> Node:
        if level == len(self.LEVELS):
            return self.unary()
        node = self.binary(level + 1)
        while self.peek() in self.LEVELS[level]:
            op = self.take()[1]
            node = (op, node, self.binary(level + 1))
        return node

    def unary(self) -> Node:
        if self.peek() in ("!", "-"):
            op = self.take()[1]
            return ("u" + op, self.unary())
        return self.member()

    def member(self) -> Node:
        node = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                name = self.take()[1]
                if self.peek() == "(":
                    node = ("call", name, node, self.args(")"))
                else:
                    node = ("select", node, name)
            else:
                index = self.expr()
                self.take("]")
                node = ("index", node, index)
        return node

    def args(self, close: str) -> list[Node]:
        self.take("(" if close == ")" else None)
        items: list[Node] = []
        while self.peek() != close:
            items.append(self.expr())
            if self.peek() == ",":
                self.take()
        self.take(close)
        return items

    def primary(self) -> Node:
        kind, text = self.take()
        if kind == "num":
            if text.endswith("u"):
                return ("const", int(text[:-1]))
            return ("const", float(text) if any(c in text for c in ".eE") else int(text))
        if kind == "str":
            return ("const", _unescape(text))
        if kind == "id":
            if text in ("true", "false"):
                return ("const", text == "true")
            if text == "null":
                return ("const", None)
            if self.peek() == "(":
                return ("call", text, None, self.args(")"))
            if text == "JSONPatch" and self.peek() == "{":
                self.take()
                fields = {}
                while self.peek() != "}":
                    name = self.take()[1]
                    self.take(":")
                    fields[name] = self.expr()
                    if self.peek() == ",":
                        self.take()
                self.take("}")
                return ("struct", fields)
            return ("id", text)
        if text == "(":
            node = self.expr()
            self.take(")")
            return node
        if text == "[":
            items = []
            while self.peek() != "]":
                items.append(self.expr())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return ("list", items)
        if text == "{":
            entries = []
            while self.peek() != "}":
                key = self.expr()
                self.take(":")
                entries.append((key, self.expr()))
                if self.peek() == ",":
                    self.take()
            self.take("}")
            return ("map", entries)
        raise CelError(f"unexpected {text!r}")


def size(value: Any) -> int:
    """cel-go's `actualSize`: the size of a string, list or map; 1 for anything else."""
    return len(value) if isinstance(value, str | list | dict) else 1


def traversal(value: Any) -> int:
    if isinstance(value, str):
        return int(len(value) * 0.1)
    if isinstance(value, list):
        return sum(traversal(v) for v in value)
    if isinstance(value, dict):
        return sum(traversal(k) + traversal(v) for k, v in value.items())
    return 1


def equal(a: Any, b: Any) -> bool:
    ta, tb = type_of(a), type_of(b)
    numbers = {"int", "uint", "double"}
    if ta.name in numbers and tb.name in numbers:
        return bool(a == b)
    if ta != tb:
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _ceil(x: float) -> int:
    return math.ceil(round(x, 9))


class Evaluator:
    """Evaluates one parsed expression, adding up its runtime cost."""

    def __init__(self, bindings: Mapping[str, Any], variable: Callable[[str], Any]) -> None:
        self.bindings = dict(bindings)
        self.variable = variable
        self.cost = 0

    def run(self, node: Node) -> Any:
        kind = node[0]
        method = getattr(self, "_" + {"?": "cond", "u!": "not", "u-": "neg"}.get(kind, kind), None)
        if method is None:
            return self._binary(node)
        return method(node)

    def _const(self, node: Node) -> Any:
        return node[1]

    def _id(self, node: Node) -> Any:
        name = node[1]
        if name in self.bindings:
            self.cost += 1
            return self.bindings[name]
        if name in TYPES:
            return TYPES[name]
        if name == "variables":
            self.cost += 1
            return _Variables(self.variable)
        raise CelError(f"undeclared {name}")

    def _select(self, node: Node) -> Any:
        target = self.run(node[1])
        self.cost += 1
        if isinstance(target, _Variables):
            return target.get(node[2])
        if not isinstance(target, dict) or node[2] not in target:
            raise CelError(f"no such key: {node[2]}")
        return target[node[2]]

    def _index(self, node: Node) -> Any:
        target, key = self.run(node[1]), self.run(node[2])
        self.cost += 1
        if isinstance(target, list):
            if not isinstance(key, int) or isinstance(key, bool) or not 0 <= key < len(target):
                raise CelError("index out of range")
            return target[key]
        if isinstance(target, dict):
            if key not in target:
                raise CelError(f"no such key: {key}")
            return target[key]
        raise CelError("index of a non-container")

    def _cond(self, node: Node) -> Any:
        test = self.run(node[1])
        if not isinstance(test, bool):
            raise CelError("no such overload: ternary on a non-bool")
        return self.run(node[2] if test else node[3])

    def _not(self, node: Node) -> Any:
        value = self.run(node[1])
        self.cost += 1
        if not isinstance(value, bool):
            raise CelError("no such overload: !")
        return not value

    def _neg(self, node: Node) -> Any:
        value = self.run(node[1])
        self.cost += 1
        return -value

    def _list(self, node: Node) -> Any:
        items = [self.run(n) for n in node[1]]
        if all(n[0] == "const" for n in node[1]):
            return items  # a constant list is folded when the program is planned
        self.cost += 10
        return items

    def _map(self, node: Node) -> Any:
        result = {}
        for key, value in node[1]:
            result[self.run(key)] = self.run(value)
        self.cost += 30
        return result

    def _struct(self, node: Node) -> Any:
        result = {k: self.run(v) for k, v in node[1].items()}
        self.cost += 40
        return result

    def _binary(self, node: Node) -> Any:
        op = node[0]
        if op in ("&&", "||"):
            left = self.run(node[1])
            if op == "&&" and left is False:
                return False
            if op == "||" and left is True:
                return True
            right = self.run(node[2])
            if not isinstance(left, bool) or not isinstance(right, bool):
                raise CelError(f"no such overload: {op}")
            return right
        left, right = self.run(node[1]), self.run(node[2])
        if op in ("==", "!="):
            self.cost += _ceil(min(size(left), size(right)) * 0.1)
            return equal(left, right) == (op == "==")
        if op == "in":
            if isinstance(right, list):
                self.cost += len(right)
                return any(equal(left, x) for x in right)
            self.cost += 1
            if isinstance(right, dict):
                return left in right
            raise CelError("no such overload: in")
        if op == "+":
            if isinstance(left, str) and isinstance(right, str):
                self.cost += _ceil((len(left) + len(right)) * 0.1)
                return left + right
            self.cost += 1
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            if type_of(left) == type_of(right) and type_of(left).name in ("int", "double"):
                return left + right
            raise CelError("no such overload: +")
        if op in ("<", "<=", ">", ">="):
            if isinstance(left, str) and isinstance(right, str):
                self.cost += _ceil(min(len(left), len(right)) * 0.1)
            else:
                self.cost += 1
            if isinstance(left, bool) or isinstance(right, bool):
                raise CelError(f"no such overload: {op}")
            return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[
                op
            ]
        self.cost += 1
        if op == "-":
            return left - right
        if op == "*":
            return left * right
        raise CelError(f"unsupported operator {op}")

    MACROS = ("map", "filter", "exists", "all")

    def _call(self, node: Node) -> Any:
        _, name, target, args = node
        if target is None and name == "has":
            (arg,) = args
            if arg[0] != "select":
                raise CelError("has() takes a field selection")
            holder = self.run(arg[1])
            return isinstance(holder, dict) and arg[2] in holder
        if target is not None and name in self.MACROS:
            return self._macro(name, self.run(target), args)
        receiver = [self.run(target)] if target is not None else []
        values = receiver + [self.run(a) for a in args]
        result = _FUNCTIONS[name](*values)
        self.cost += _call_cost(name, values, result)
        return result

    def _macro(self, name: str, items: Any, args: list[Node]) -> Any:
        var, body = args
        if isinstance(items, dict):
            items = list(items)
        if not isinstance(items, list):
            raise CelError(f"{name}() over a non-list")
        saved = self.bindings.get(var[1], _MISSING)
        out: Any = {"map": [], "filter": [], "exists": False, "all": True}[name]
        for item in items:
            if name in ("exists", "all"):
                self.cost += 3 if name == "exists" else 2
                if (name == "exists" and out is True) or (name == "all" and out is False):
                    break
            self.bindings[var[1]] = item
            value = self.run(body)
            if name == "map":
                self.cost += 12
                out = [*out, value]
            elif name == "filter":
                if value is True:
                    self.cost += 13
                    out = [*out, item]
                else:
                    self.cost += 1
            else:
                self.cost += 1
                out = (out or value) if name == "exists" else (out and value)
        self.cost += 1  # the result reads the accumulator
        if saved is _MISSING:
            self.bindings.pop(var[1], None)
        else:
            self.bindings[var[1]] = saved
        return out


_MISSING = object()


class _Variables:
    def __init__(self, lookup: Callable[[str], Any]) -> None:
        self.lookup = lookup

    def get(self, name: str) -> Any:
        return self.lookup(name)


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, int | str):
        return str(value)
    raise CelError("no such overload: string")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise CelError("no such overload: int")
    if isinstance(value, str):
        return int(value)
    return int(value)


@functools.cache
def _regex(pattern: str) -> Any:
    return re2.compile(pattern)


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "size": size,
    "type": type_of,
    "string": _string,
    "int": _int,
    "double": float,
    "matches": lambda s, p: _regex(p).search(s) is not None,
    "contains": lambda s, t: t in s,
    "startsWith": lambda s, t: s.startswith(t),
    "endsWith": lambda s, t: s.endswith(t),
    "lowerAscii": lambda s: "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in s),
    "trim": lambda s: s.strip(),
    "join": lambda items, sep="": sep.join(items),
    "replace": lambda s, old, new: s.replace(old, new),
    "indexOf": lambda s, t: s.find(t),
    "lastIndexOf": lambda s, t: s.rfind(t),
    "substring": lambda s, start, end=None: s[start : len(s) if end is None else end],
    "sum": sum,
}


def _call_cost(name: str, args: list[Any], result: Any) -> int:
    if name == "matches":
        return _ceil((1 + size(args[0])) * 0.1) * _ceil(size(args[1]) * 0.25)
    if name == "contains":
        return _ceil(size(args[0]) * 0.1) * _ceil(size(args[1]) * 0.1)
    if name in ("startsWith", "endsWith", "lowerAscii", "trim", "substring"):
        return _ceil(size(args[0]) * 0.1)
    if name == "replace":
        return _ceil(size(args[0]) * 2 * 0.1)
    if name == "join":
        return _ceil(size(result) * 2 * 0.1)
    if name in ("sum", "indexOf", "lastIndexOf"):
        return traversal(args[0])
    return 1


@functools.cache
def parse(source: str) -> Node:
    return Parser(source).parse()


@dataclass
class Costs:
    """What one admission request costs a policy: each expression's own cost, by name."""

    expressions: dict[str, int]
    values: dict[str, Any]

    @property
    def total(self) -> int:
        return sum(c for name, c in self.expressions.items() if not name.startswith("match:"))

    @property
    def conditions(self) -> int:
        return sum(c for name, c in self.expressions.items() if name.startswith("match:"))


def measure(policy: Mapping[str, Any], bindings: Mapping[str, Any]) -> Costs:
    """Evaluate a policy's matchConditions, then (when they all hold) its validations,
    messages and mutations, reading variables lazily as the API server does; the cost of
    each expression evaluated."""
    spec = policy["spec"]
    sources = {v["name"]: v["expression"] for v in spec.get("variables", [])}
    costs: dict[str, int] = {}
    values: dict[str, Any] = {}

    def variable(name: str) -> Any:
        if name not in values:
            values[name] = evaluate(f"var:{name}", sources[name])
        return values[name]

    def evaluate(name: str, source: str) -> Any:
        evaluator = Evaluator(bindings, variable)
        result = evaluator.run(parse(source))
        costs[name] = evaluator.cost
        return result

    for condition in spec.get("matchConditions", []):
        if evaluate(f"match:{condition['name']}", condition["expression"]) is not True:
            return Costs(costs, values)
    for i, validation in enumerate(spec.get("validations", [])):
        if evaluate(f"validation:{i}", validation["expression"]) is not True:
            evaluate(f"message:{i}", validation["messageExpression"])
    for i, mutation in enumerate(spec.get("mutations", [])):
        evaluate(f"mutation:{i}", mutation["jsonPatch"]["expression"])
    return Costs(costs, values)
