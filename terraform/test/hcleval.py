"""A small evaluator of Terraform expressions, for checking modules without Terraform.

Input is the JSON that HashiCorp's HCL parser produces through hcl2json: literal values come
through as JSON, every other expression as a template string ("${...}" holding the source
text). This module parses those strings (the HCL expression and template grammar), and
evaluates them against the inputs of a module: variables, locals, resources (whose computed
attributes become placeholders such as "<aws_iam_role.task[0].arn>"), data sources (stubs)
and child modules.

It covers the part of the language the modules in ../modules use, with Terraform's rules
where they matter for finding mistakes: `&&`/`||` evaluate both sides, a conditional's
branches must be of compatible kinds, a missing attribute or index is an error, and every
local is evaluated (so the file("ERROR: ...") validation idiom fires as in a plan).
It is not Terraform: types are checked only roughly, and unknown values are strings.
"""

import json
import math
import os
import re


class HclError(Exception):
    """An expression could not be parsed or evaluated."""


class HclFileError(HclError):
    """file() was called on a path that does not exist (the validation idiom)."""

    def __init__(self, path):
        super().__init__(f'no file exists at "{path}"')
        self.path = path


# --------------------------------------------------------------------------- syntax tree


class Node:
    pass


class Lit(Node):
    def __init__(self, value):
        self.value = value


class Template(Node):
    """parts: list of str | ("interp", Node) | ("if", cond, then, else) | ("for", k, v, coll, body)."""

    def __init__(self, parts):
        self.parts = parts


class Var(Node):
    def __init__(self, name):
        self.name = name


class GetAttr(Node):
    def __init__(self, obj, name):
        self.obj, self.name = obj, name


class Index(Node):
    def __init__(self, obj, key):
        self.obj, self.key = obj, key


class Splat(Node):
    """obj[*] followed by ops (a list of ("attr", name) / ("index", node))."""

    def __init__(self, obj, ops):
        self.obj, self.ops = obj, ops


class Call(Node):
    def __init__(self, name, args, expand_last):
        self.name, self.args, self.expand_last = name, args, expand_last


class Tuple(Node):
    def __init__(self, items):
        self.items = items


class Object(Node):
    def __init__(self, items):
        self.items = items  # list of (key Node, value Node)


class ForExpr(Node):
    def __init__(self, key_var, val_var, coll, key_expr, val_expr, cond, group, is_object):
        self.key_var, self.val_var, self.coll = key_var, val_var, coll
        self.key_expr, self.val_expr, self.cond = key_expr, val_expr, cond
        self.group, self.is_object = group, is_object


class Cond(Node):
    def __init__(self, cond, a, b):
        self.cond, self.a, self.b = cond, a, b


class Unary(Node):
    def __init__(self, op, x):
        self.op, self.x = op, x


class Binary(Node):
    def __init__(self, op, a, b):
        self.op, self.a, self.b = op, a, b


# --------------------------------------------------------------------------- parser

_BINARY_LEVELS = [["||"], ["&&"], ["==", "!="], ["<=", ">=", "<", ">"], ["+", "-"], ["*", "/", "%"]]
_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class Parser:
    def __init__(self, src, origin="<expr>"):
        self.src, self.pos, self.origin = src, 0, origin

    # -- helpers
    def error(self, msg):
        line = self.src.count("\n", 0, self.pos) + 1
        snippet = self.src[self.pos:self.pos + 40].replace("\n", "\\n")
        raise HclError(f"{self.origin}: line {line} of the expression: {msg} (at {snippet!r})")

    def skip_ws(self):
        s = self.src
        while self.pos < len(s):
            c = s[self.pos]
            if c in " \t\r\n":
                self.pos += 1
            elif c == "#" or s.startswith("//", self.pos):
                end = s.find("\n", self.pos)
                self.pos = len(s) if end < 0 else end + 1
            elif s.startswith("/*", self.pos):
                end = s.find("*/", self.pos + 2)
                if end < 0:
                    self.error("unterminated comment")
                self.pos = end + 2
            else:
                break

    def peek(self, text):
        self.skip_ws()
        return self.src.startswith(text, self.pos)

    def accept(self, text):
        if self.peek(text):
            self.pos += len(text)
            return True
        return False

    def expect(self, text):
        if not self.accept(text):
            self.error(f"expected {text!r}")

    def peek_keyword(self, word):
        self.skip_ws()
        m = _IDENT.match(self.src, self.pos)
        return bool(m) and m.group(0) == word

    def ident(self):
        self.skip_ws()
        m = _IDENT.match(self.src, self.pos)
        if not m:
            self.error("expected a name")
        self.pos = m.end()
        return m.group(0)

    def at_end(self):
        self.skip_ws()
        return self.pos >= len(self.src)

    # -- expressions
    def parse_expr(self):
        cond = self.parse_binary(0)
        if self.peek("?"):
            self.pos += 1
            a = self.parse_expr()
            self.expect(":")
            b = self.parse_expr()
            return Cond(cond, a, b)
        return cond

    def parse_binary(self, level):
        if level == len(_BINARY_LEVELS):
            return self.parse_unary()
        left = self.parse_binary(level + 1)
        while True:
            self.skip_ws()
            op = next((o for o in _BINARY_LEVELS[level] if self.src.startswith(o, self.pos)), None)
            if op is None:
                return left
            # "=" of "==" must not be confused with "=>" or an object's "="; "<" with "<<".
            if op in ("<", ">") and self.src.startswith(op * 2, self.pos):
                return left
            self.pos += len(op)
            right = self.parse_binary(level + 1)
            left = Binary(op, left, right)

    def parse_unary(self):
        self.skip_ws()
        if self.src.startswith("!", self.pos) and not self.src.startswith("!=", self.pos):
            self.pos += 1
            return Unary("!", self.parse_unary())
        if self.src.startswith("-", self.pos):
            self.pos += 1
            return Unary("-", self.parse_unary())
        return self.parse_postfix(self.parse_primary())

    def parse_postfix(self, node):
        while True:
            self.skip_ws()
            s = self.src
            if s.startswith(".*", self.pos):
                self.pos += 2
                node = Splat(node, self.parse_splat_ops(attrs_only=True))
            elif s.startswith("[*]", self.pos) or re.match(r"\[\s*\*\s*\]", s[self.pos:]):
                self.pos = s.index("]", self.pos) + 1
                node = Splat(node, self.parse_splat_ops(attrs_only=False))
            elif s.startswith(".", self.pos) and not s.startswith("...", self.pos):
                self.pos += 1
                m = _NUMBER.match(s, self.pos)
                if m and m.group(0).isdigit():
                    self.pos = m.end()
                    node = Index(node, Lit(int(m.group(0))))
                else:
                    node = GetAttr(node, self.ident())
            elif s.startswith("[", self.pos):
                self.pos += 1
                key = self.parse_expr()
                self.expect("]")
                node = Index(node, key)
            else:
                return node

    def parse_splat_ops(self, attrs_only):
        ops = []
        while True:
            self.skip_ws()
            s = self.src
            if s.startswith(".", self.pos) and not s.startswith("...", self.pos):
                self.pos += 1
                ops.append(("attr", self.ident()))
            elif not attrs_only and s.startswith("[", self.pos) and not re.match(r"\[\s*\*", s[self.pos:]):
                self.pos += 1
                key = self.parse_expr()
                self.expect("]")
                ops.append(("index", key))
            else:
                return ops

    def parse_primary(self):
        self.skip_ws()
        s, p = self.src, self.pos
        if p >= len(s):
            self.error("unexpected end of expression")
        c = s[p]
        if c.isdigit():
            m = _NUMBER.match(s, p)
            self.pos = m.end()
            text = m.group(0)
            return Lit(int(text) if re.fullmatch(r"[0-9]+", text) else float(text))
        if c == '"':
            self.pos += 1
            return Template(parse_template_parts(self, quoted=True))
        if s.startswith("<<", p):
            self.error("heredocs inside expressions are not supported by this evaluator")
        if c == "(":
            self.pos += 1
            e = self.parse_expr()
            self.expect(")")
            return e
        if c == "[":
            self.pos += 1
            if self.peek_keyword("for"):
                return self.parse_for(is_object=False)
            items = []
            while not self.accept("]"):
                items.append(self.parse_expr())
                if not self.accept(","):
                    self.expect("]")
                    break
            return Tuple(items)
        if c == "{":
            self.pos += 1
            if self.peek_keyword("for"):
                return self.parse_for(is_object=True)
            items = []
            while not self.accept("}"):
                key = self.parse_object_key()
                if not (self.accept("=") or self.accept(":")):
                    self.error("expected '=' or ':' after an object key")
                items.append((key, self.parse_expr()))
                self.accept(",")
            return Object(items)
        if _IDENT_START.match(c):
            name = self.ident()
            if name == "true":
                return Lit(True)
            if name == "false":
                return Lit(False)
            if name == "null":
                return Lit(None)
            if self.peek("("):
                self.pos += 1
                args, expand = [], False
                while not self.accept(")"):
                    args.append(self.parse_expr())
                    if self.accept("..."):
                        expand = True
                    if not self.accept(","):
                        self.expect(")")
                        break
                return Call(name, args, expand)
            return Var(name)
        self.error("unexpected character")

    def parse_object_key(self):
        self.skip_ws()
        m = _IDENT.match(self.src, self.pos)
        if m and m.group(0) not in ("true", "false", "null"):
            # A bare name is a literal key, unless it is followed by more expression.
            after = self.src[m.end():].lstrip(" \t")
            if after[:1] in ("=", ":") and not after.startswith("=="):
                self.pos = m.end()
                return Lit(m.group(0))
        return self.parse_expr()

    def parse_for(self, is_object):
        self.ident()  # "for"
        first = self.ident()
        second = None
        if self.accept(","):
            second = self.ident()
        if self.ident() != "in":
            self.error("expected 'in'")
        coll = self.parse_expr()
        self.expect(":")
        key_expr = None
        val_expr = self.parse_expr()
        group = False
        if is_object:
            self.expect("=>")
            key_expr, val_expr = val_expr, self.parse_expr()
            group = self.accept("...")
        cond = None
        if self.peek_keyword("if"):
            self.ident()
            cond = self.parse_expr()
        self.expect("}" if is_object else "]")
        key_var, val_var = (first, second) if second else (None, first)
        return ForExpr(key_var, val_var, coll, key_expr, val_expr, cond, group, is_object)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def parse_template_parts(p, quoted):
    """Parses a template from p.pos: up to the closing quote (quoted) or the end of the text.

    Returns the part list of a Template, with directives nested and strip markers applied.
    """
    flat = []  # str | ("interp", node, ltrim, rtrim) | ("dir", word, data, ltrim, rtrim)
    buf = []
    s = p.src

    def flush():
        if buf:
            flat.append("".join(buf))
            buf.clear()

    while True:
        if p.pos >= len(s):
            if quoted:
                p.error("unterminated string")
            break
        c = s[p.pos]
        if quoted and c == '"':
            p.pos += 1
            break
        if quoted and c == "\\":
            nxt = s[p.pos + 1:p.pos + 2]
            if nxt in _ESCAPES:
                buf.append(_ESCAPES[nxt])
                p.pos += 2
            elif nxt == "u":
                buf.append(chr(int(s[p.pos + 2:p.pos + 6], 16)))
                p.pos += 6
            else:
                p.error("unknown escape sequence")
            continue
        if s.startswith("$${", p.pos) or s.startswith("%%{", p.pos):
            buf.append(s[p.pos + 1:p.pos + 3])
            p.pos += 3
            continue
        if s.startswith("${", p.pos) or s.startswith("%{", p.pos):
            is_interp = c == "$"
            p.pos += 2
            ltrim = s.startswith("~", p.pos)
            if ltrim:
                p.pos += 1
            flush()
            if is_interp:
                node = p.parse_expr()
                item = ["interp", node]
            else:
                word = p.ident()
                if word == "if":
                    item = ["dir", "if", p.parse_expr()]
                elif word == "for":
                    first = p.ident()
                    second = None
                    if p.accept(","):
                        second = p.ident()
                    if p.ident() != "in":
                        p.error("expected 'in' in a for directive")
                    coll = p.parse_expr()
                    item = ["dir", "for", ((first, second) if second else (None, first), coll)]
                elif word in ("else", "endif", "endfor"):
                    item = ["dir", word, None]
                else:
                    p.error(f"unknown template directive {word!r}")
            p.skip_ws()
            rtrim = s.startswith("~", p.pos)
            if rtrim:
                p.pos += 1
            p.expect("}")
            flat.append(tuple(item) + (ltrim, rtrim))
            continue
        buf.append(c)
        p.pos += 1
    flush()

    # Strip markers: "~" removes every whitespace character on its side.
    for i, item in enumerate(flat):
        if isinstance(item, tuple):
            ltrim, rtrim = item[-2], item[-1]
            if ltrim and i > 0 and isinstance(flat[i - 1], str):
                flat[i - 1] = flat[i - 1].rstrip(" \t\r\n")
            if rtrim and i + 1 < len(flat) and isinstance(flat[i + 1], str):
                flat[i + 1] = flat[i + 1].lstrip(" \t\r\n")

    def nest(idx, stop_words):
        parts = []
        while idx < len(flat):
            item = flat[idx]
            if isinstance(item, str):
                if item:
                    parts.append(item)
                idx += 1
                continue
            if item[0] == "interp":
                parts.append(("interp", item[1]))
                idx += 1
                continue
            word = item[1]
            if word in stop_words:
                return parts, idx, word
            if word == "if":
                then, idx, end = nest(idx + 1, ("else", "endif"))
                other = []
                if end == "else":
                    other, idx, end = nest(idx + 1, ("endif",))
                if end != "endif":
                    p.error("%{if} without %{endif}")
                parts.append(("if", item[2], then, other))
                idx += 1
            elif word == "for":
                body, idx, end = nest(idx + 1, ("endfor",))
                if end != "endfor":
                    p.error("%{for} without %{endfor}")
                (kv, vv), coll = item[2]
                parts.append(("for", kv, vv, coll, body))
                idx += 1
            else:
                p.error(f"%{{{word}}} without its opening directive")
        return parts, idx, None

    parts, _, stray = nest(0, ())
    if stray:
        p.error(f"stray %{{{stray}}}")
    return parts


def parse_expression(src, origin="<expr>"):
    p = Parser(src, origin)
    node = p.parse_expr()
    if not p.at_end():
        p.error("unexpected text after the expression")
    return node


def parse_template(src, origin="<template>"):
    p = Parser(src, origin)
    return Template(parse_template_parts(p, quoted=False))


# --------------------------------------------------------------------------- values


class Unset:
    """Marks an object attribute that does not exist."""


def kind(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "list"
    if isinstance(v, dict) or isinstance(v, Ref):
        return "object"
    return type(v).__name__


def to_str(v, where="value"):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() else repr(v)
    if isinstance(v, str):
        return v
    if v is None:
        raise HclError(f"{where}: a null value cannot be used in a string")
    raise HclError(f"{where}: a {kind(v)} cannot be used in a string")


def to_num(v, where="value"):
    if isinstance(v, bool):
        raise HclError(f"{where}: a bool is not a number")
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, str):
        try:
            return int(v) if re.fullmatch(r"-?[0-9]+", v) else float(v)
        except ValueError:
            raise HclError(f"{where}: {v!r} is not a number") from None
    raise HclError(f"{where}: a {kind(v)} is not a number")


def to_bool(v, where="value"):
    if isinstance(v, bool):
        return v
    if v == "true":
        return True
    if v == "false":
        return False
    raise HclError(f"{where}: a {kind(v)} is not a bool")


def json_encode(v):
    """Terraform's jsonencode: sorted keys, no spaces, Go's HTML-safe escaping."""

    def plain(x):
        if isinstance(x, Ref):
            x = x.as_object()
        if isinstance(x, dict):
            return {k: plain(x[k]) for k in sorted(x)}
        if isinstance(x, list):
            return [plain(i) for i in x]
        if isinstance(x, float) and x.is_integer():
            return int(x)
        return x

    text = json.dumps(plain(v), separators=(",", ":"), ensure_ascii=False, sort_keys=True)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


class Ref:
    """An object whose attributes are computed on demand (a resource instance, a module)."""

    def attr(self, name):
        raise NotImplementedError

    def as_object(self):
        raise HclError(f"{self} cannot be used as a whole value here")


# --------------------------------------------------------------------------- functions


def _flatten(v):
    out = []
    for x in v:
        if isinstance(x, list):
            out.extend(_flatten(x))
        else:
            out.append(x)
    return out


def _merge(*args):
    out = {}
    for a in args:
        if a is None:
            continue
        if isinstance(a, Ref):
            a = a.as_object()
        if not isinstance(a, dict):
            raise HclError(f"merge: arguments must be maps or objects, got a {kind(a)}")
        out.update(a)
    return out


def _lookup(m, key, *default):
    if isinstance(m, Ref):
        m = m.as_object()
    if not isinstance(m, dict):
        raise HclError(f"lookup: the first argument must be a map or object, got a {kind(m)}")
    if key in m:
        return m[key]
    if default:
        return default[0]
    raise HclError(f"lookup: the map has no element for the key {key!r}")


def _format(fmt, *args):
    out, i, ai = [], 0, 0
    while i < len(fmt):
        c = fmt[i]
        if c == "%":
            spec = fmt[i + 1]
            if spec == "%":
                out.append("%")
            else:
                arg = args[ai]
                ai += 1
                if spec == "d":
                    out.append(str(int(to_num(arg, "format"))))
                elif spec in "sv":
                    out.append(to_str(arg, "format") if spec == "s" else json_encode(arg) if not isinstance(arg, str) else arg)
                elif spec == "q":
                    out.append(json.dumps(to_str(arg, "format")))
                else:
                    raise HclError(f"format: the verb %{spec} is not supported here")
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _replace(s, sub, rep):
    s, sub, rep = to_str(s), to_str(sub), to_str(rep)
    if len(sub) > 1 and sub.startswith("/") and sub.endswith("/"):
        return re.sub(sub[1:-1], re.sub(r"\$(\d+)", r"\\\1", rep), s)
    return s.replace(sub, rep)


def _regex(pattern, s):
    m = re.search(pattern, to_str(s))
    if not m:
        raise HclError(f"regex: the pattern {pattern!r} did not match {s!r}")
    if m.groupdict():
        return m.groupdict()
    if m.groups():
        return list(m.groups())
    return m.group(0)


def _substr(s, offset, length):
    s = to_str(s)
    offset, length = int(to_num(offset)), int(to_num(length))
    if offset < 0:
        offset += len(s)
    return s[offset:] if length < 0 else s[offset:offset + length]


def _length(v):
    if isinstance(v, Ref):
        v = v.as_object()
    if isinstance(v, (str, list, dict)):
        return len(v)
    raise HclError(f"length: a {kind(v)} has no length")


def _keys(v):
    if isinstance(v, Ref):
        v = v.as_object()
    if not isinstance(v, dict):
        raise HclError(f"keys: the argument must be a map or object, got a {kind(v)}")
    return sorted(v)


def _contains(coll, value):
    if not isinstance(coll, list):
        raise HclError(f"contains: the first argument must be a list or set, got a {kind(coll)}")
    return value in coll


def _element(coll, idx):
    if not coll:
        raise HclError("element: the list is empty")
    return coll[int(to_num(idx)) % len(coll)]


def _coalesce(*args):
    for a in args:
        if a is not None and a != "":
            return a
    raise HclError("coalesce: no non-null, non-empty argument")


def _one(v):
    if len(v) > 1:
        raise HclError("one: the list has more than one element")
    return v[0] if v else None


def _list_arg(name, v):
    if not isinstance(v, list):
        raise HclError(f"{name}: the argument must be a list, got a {kind(v)}")
    return v


FUNCTIONS = {
    "abs": lambda x: abs(to_num(x)),
    "alltrue": lambda v: all(to_bool(x, "alltrue") for x in _list_arg("alltrue", v)),
    "anytrue": lambda v: any(to_bool(x, "anytrue") for x in _list_arg("anytrue", v)),
    "ceil": lambda x: math.ceil(to_num(x)),
    "coalesce": _coalesce,
    "compact": lambda v: [x for x in v if x not in (None, "")],
    "concat": lambda *ls: [x for l in ls for x in _list_arg("concat", l)],
    "contains": _contains,
    "distinct": lambda v: [x for i, x in enumerate(v) if x not in v[:i]],
    "element": _element,
    "endswith": lambda s, suf: to_str(s).endswith(to_str(suf)),
    "flatten": lambda v: _flatten(_list_arg("flatten", v)),
    "floor": lambda x: math.floor(to_num(x)),
    "format": _format,
    "join": lambda sep, *ls: to_str(sep).join(to_str(x, "join") for l in ls for x in l),
    "jsondecode": lambda s: json.loads(to_str(s)),
    "jsonencode": json_encode,
    "keys": _keys,
    "length": _length,
    "lookup": _lookup,
    "lower": lambda s: to_str(s).lower(),
    "max": lambda *a: max(to_num(x) for x in a),
    "merge": _merge,
    "min": lambda *a: min(to_num(x) for x in a),
    "one": _one,
    "range": lambda *a: list(range(*[int(to_num(x)) for x in a])),
    "regex": _regex,
    "replace": _replace,
    "reverse": lambda v: list(reversed(_list_arg("reverse", v))),
    "sort": lambda v: sorted(to_str(x) for x in v),
    "split": lambda sep, s: to_str(s).split(to_str(sep)),
    "startswith": lambda s, pre: to_str(s).startswith(to_str(pre)),
    "substr": _substr,
    "tobool": lambda x: None if x is None else to_bool(x),
    "tolist": lambda v: list(v),
    "tomap": lambda v: dict(v),
    "tonumber": lambda x: None if x is None else to_num(x),
    "toset": lambda v: sorted(set(v), key=lambda x: (kind(x), str(x))),
    "tostring": lambda x: None if x is None else to_str(x),
    "trimprefix": lambda s, p: to_str(s)[len(p):] if to_str(s).startswith(p) else to_str(s),
    "trimspace": lambda s: to_str(s).strip(),
    "trimsuffix": lambda s, p: to_str(s)[:-len(p)] if p and to_str(s).endswith(p) else to_str(s),
    "upper": lambda s: to_str(s).upper(),
    "values": lambda m: [m[k] for k in sorted(m)],
    "zipmap": lambda ks, vs: dict(zip(ks, vs)),
}


# --------------------------------------------------------------------------- evaluation


class Scope:
    """Names visible to an expression: a dict of bindings over a parent scope."""

    def __init__(self, bindings, parent=None, base_dir=None, origin="<expr>"):
        self.bindings, self.parent = bindings, parent
        self.base_dir = base_dir if base_dir is not None else (parent.base_dir if parent else ".")
        self.origin = origin if parent is None or origin != "<expr>" else parent.origin

    def lookup(self, name):
        s = self
        while s is not None:
            if name in s.bindings:
                v = s.bindings[name]
                return v() if callable(v) and not isinstance(v, Ref) else v
            s = s.parent
        raise HclError(f"{self.origin}: unknown name {name!r}")

    def child(self, bindings):
        return Scope(bindings, self)


def get_attr(v, name, where):
    if isinstance(v, Ref):
        return v.attr(name)
    if isinstance(v, dict):
        if name not in v:
            raise HclError(f"{where}: the object has no attribute {name!r} (it has {sorted(v)})")
        return v[name]
    if v is None:
        raise HclError(f"{where}: attribute {name!r} of a null value")
    raise HclError(f"{where}: attribute {name!r} of a {kind(v)}")


def get_index(v, key, where):
    if isinstance(v, list):
        i = int(to_num(key, where))
        if not 0 <= i < len(v):
            raise HclError(f"{where}: index {i} is out of range (the list has {len(v)} elements)")
        return v[i]
    if isinstance(v, (dict, Ref)):
        return get_attr(v, to_str(key, where), where)
    if v is None:
        raise HclError(f"{where}: index {key!r} of a null value")
    raise HclError(f"{where}: a {kind(v)} cannot be indexed")


def _compatible(a, b):
    ka, kb = kind(a), kind(b)
    if "null" in (ka, kb) or ka == kb:
        return True
    return {ka, kb} <= {"string", "number", "bool"}


def evaluate(node, scope):
    where = scope.origin
    if isinstance(node, Lit):
        return node.value
    if isinstance(node, Template):
        if len(node.parts) == 1 and isinstance(node.parts[0], tuple) and node.parts[0][0] == "interp":
            return evaluate(node.parts[0][1], scope)  # "${x}" is x itself, of any type
        return _render(node.parts, scope)
    if isinstance(node, Var):
        return scope.lookup(node.name)
    if isinstance(node, GetAttr):
        return get_attr(evaluate(node.obj, scope), node.name, where)
    if isinstance(node, Index):
        return get_index(evaluate(node.obj, scope), evaluate(node.key, scope), where)
    if isinstance(node, Splat):
        base = evaluate(node.obj, scope)
        items = [] if base is None else base if isinstance(base, list) else [base]
        out = []
        for item in items:
            for op, arg in node.ops:
                item = get_attr(item, arg, where) if op == "attr" else get_index(item, evaluate(arg, scope), where)
            out.append(item)
        return out
    if isinstance(node, Tuple):
        return [evaluate(i, scope) for i in node.items]
    if isinstance(node, Object):
        out = {}
        for k, v in node.items:
            out[to_str(evaluate(k, scope), where)] = evaluate(v, scope)
        return out
    if isinstance(node, Cond):
        c = to_bool(evaluate(node.cond, scope), f"{where}: condition")
        chosen, other = (node.a, node.b) if c else (node.b, node.a)
        value = evaluate(chosen, scope)
        try:
            alt = evaluate(other, scope)
        except HclError:
            return value  # Terraform drops the errors of the branch not taken
        if not _compatible(value, alt):
            raise HclError(f"{where}: inconsistent conditional result types ({kind(value)} and {kind(alt)})")
        return value
    if isinstance(node, Unary):
        x = evaluate(node.x, scope)
        return (not to_bool(x, where)) if node.op == "!" else -to_num(x, where)
    if isinstance(node, Binary):
        a, b = evaluate(node.a, scope), evaluate(node.b, scope)  # no short-circuit, as Terraform
        op = node.op
        if op == "==":
            return _equal(a, b)
        if op == "!=":
            return not _equal(a, b)
        if op == "&&":
            return to_bool(a, where) and to_bool(b, where)
        if op == "||":
            return to_bool(a, where) or to_bool(b, where)
        x, y = to_num(a, where), to_num(b, where)
        if op == "/" and y == 0:
            raise HclError(f"{where}: division by zero")
        return {"+": lambda: x + y, "-": lambda: x - y, "*": lambda: x * y, "/": lambda: x / y,
                "%": lambda: x % y, "<": lambda: x < y, "<=": lambda: x <= y,
                ">": lambda: x > y, ">=": lambda: x >= y}[op]()
    if isinstance(node, ForExpr):
        coll = evaluate(node.coll, scope)
        if isinstance(coll, Ref):
            coll = coll.as_object()
        if isinstance(coll, dict):
            pairs = [(k, coll[k]) for k in sorted(coll)]
        elif isinstance(coll, list):
            pairs = list(enumerate(coll))
        else:
            raise HclError(f"{where}: a for expression needs a list or map, got a {kind(coll)}")
        out_list, out_map = [], {}
        for k, v in pairs:
            bind = {node.val_var: v}
            if node.key_var:
                bind[node.key_var] = k
            inner = scope.child(bind)
            if node.cond is not None and not to_bool(evaluate(node.cond, inner), where):
                continue
            if node.is_object:
                key = to_str(evaluate(node.key_expr, inner), where)
                val = evaluate(node.val_expr, inner)
                if node.group:
                    out_map.setdefault(key, []).append(val)
                elif key in out_map:
                    raise HclError(f"{where}: duplicate key {key!r} in a for expression")
                else:
                    out_map[key] = val
            else:
                out_list.append(evaluate(node.val_expr, inner))
        return out_map if node.is_object else out_list
    if isinstance(node, Call):
        return _call(node, scope)
    raise HclError(f"{where}: cannot evaluate {type(node).__name__}")


def _equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


def _render(parts, scope):
    out = []
    for part in parts:
        if isinstance(part, str):
            out.append(part)
        elif part[0] == "interp":
            out.append(to_str(evaluate(part[1], scope), scope.origin))
        elif part[0] == "if":
            branch = part[2] if to_bool(evaluate(part[1], scope), scope.origin) else part[3]
            out.append(_render(branch, scope))
        else:
            _, kv, vv, coll_node, body = part
            coll = evaluate(coll_node, scope)
            pairs = [(k, coll[k]) for k in sorted(coll)] if isinstance(coll, dict) else list(enumerate(coll))
            for k, v in pairs:
                bind = {vv: v}
                if kv:
                    bind[kv] = k
                out.append(_render(body, scope.child(bind)))
    return "".join(out)


def _call(node, scope):
    name, where = node.name, scope.origin
    if name == "can":
        try:
            evaluate(node.args[0], scope)
            return True
        except HclFileError:
            raise
        except (HclError, IndexError, KeyError, TypeError, ValueError):
            return False
    if name == "try":
        for arg in node.args:
            try:
                return evaluate(arg, scope)
            except HclFileError:
                raise
            except (HclError, IndexError, KeyError, TypeError, ValueError):
                continue
        raise HclError(f"{where}: no argument of try() could be evaluated")
    args = [evaluate(a, scope) for a in node.args]
    if node.expand_last:
        args = args[:-1] + list(args[-1])
    if name == "file":
        path = to_str(args[0], where)
        full = os.path.join(scope.base_dir, path)
        if not os.path.isfile(full):
            raise HclFileError(path)
        with open(full, encoding="utf-8") as f:
            return f.read()
    if name == "templatefile":
        path = to_str(args[0], where)
        full = path if os.path.isabs(path) else os.path.join(scope.base_dir, path)
        with open(full, encoding="utf-8") as f:
            tpl = parse_template(f.read(), full)
        vars_ = args[1]
        if not isinstance(vars_, dict):
            raise HclError(f"{where}: templatefile needs an object of variables")
        return _render(tpl.parts, Scope(dict(vars_), base_dir=scope.base_dir, origin=full))
    fn = FUNCTIONS.get(name)
    if fn is None:
        raise HclError(f"{where}: the function {name}() is not known to this evaluator")
    try:
        return fn(*args)
    except HclError as e:
        raise HclError(f"{where}: {e}") from None
    except (IndexError, KeyError, TypeError, ValueError) as e:
        raise HclError(f"{where}: {name}(): {e}") from None


def evaluate_json(value, scope):
    """Evaluates a value of hcl2json's output: strings are templates, the rest recursive."""
    if isinstance(value, str):
        if "${" not in value and "%{" not in value:
            return value
        node = parse_template(value, scope.origin)
        return evaluate(node, scope)
    if isinstance(value, list):
        return [evaluate_json(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: evaluate_json(v, scope) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- modules


class ResourceInstance(Ref):
    def __init__(self, module, rtype, name, body, index, each=None):
        self.module, self.rtype, self.name, self.body, self.index = module, rtype, name, body, index
        self.each = each  # {"key": …, "value": …} of a for_each instance

    def __str__(self):
        suffix = "" if self.index is None else f"[{self.index}]"
        if self.each is not None:
            suffix = f"[{json.dumps(self.each['key'])}]"
        return f"{self.rtype}.{self.name}{suffix}"

    def scope(self):
        bind = {"count": {"index": self.index}} if self.index is not None else {}
        if self.each is not None:
            bind["each"] = self.each
        return self.module.scope.child(bind)

    def attr(self, name):
        if name == "tags_all":
            return self.attr("tags") if "tags" in self.body else {}
        if name in self.body and name not in ("count", "for_each", "dynamic", "lifecycle", "depends_on"):
            s = self.scope()
            s.origin = f"{self.module.where}: {self}.{name}"
            return evaluate_json(self.body[name], s)
        return f"<{self}.{name}>"

    def as_object(self):
        raise HclError(f"{self.module.where}: {self} is used as a whole value; the evaluator only knows its attributes")


class ModuleCall(Ref):
    def __init__(self, module):
        self.module = module

    def attr(self, name):
        return self.module.output(name)


class Module:
    """One module directory, given its parsed files and its input values."""

    def __init__(self, directory, parsed_files, inputs, data_stubs, where=None, parse=None):
        self.dir = os.path.abspath(directory)
        self.where = where or directory
        self.inputs = dict(inputs)
        self.data_stubs = data_stubs
        self.parse = parse  # callable(dir) -> {file: json}, for child modules
        self.variables, self.locals, self.outputs = {}, {}, {}
        self.resources, self.data, self.modules = {}, {}, {}
        self.local_origin = {}
        for fname, doc in sorted(parsed_files.items()):
            for name, blocks in doc.get("variable", {}).items():
                self.variables[name] = blocks[0]
            for block in doc.get("locals", []):
                for name, value in block.items():
                    if name in self.locals:
                        raise HclError(f"{self.where}: local.{name} is defined twice")
                    self.locals[name] = value
                    self.local_origin[name] = fname
            for name, blocks in doc.get("output", {}).items():
                self.outputs[name] = blocks[0]
            for rtype, named in doc.get("resource", {}).items():
                for name, blocks in named.items():
                    self.resources[(rtype, name)] = blocks[0]
            for rtype, named in doc.get("data", {}).items():
                for name, blocks in named.items():
                    self.data[(rtype, name)] = blocks[0]
            for name, blocks in doc.get("module", {}).items():
                self.modules[name] = blocks[0]
        unknown = set(self.inputs) - set(self.variables)
        if unknown:
            raise HclError(f"{self.where}: no variable is declared for the inputs {sorted(unknown)}")
        self._local_cache, self._local_busy, self._module_cache = {}, set(), {}
        self.scope = Scope(self._root_bindings(), base_dir=self.dir, origin=self.where)

    # -- names
    def _root_bindings(self):
        b = {
            "var": _LazyObject(self.var_value, lambda: sorted(self.variables), "var"),
            "local": _LazyObject(self.local_value, lambda: sorted(self.locals), "local"),
            "path": {"module": self.dir, "root": self.dir, "cwd": self.dir},
            "data": _LazyObject(self._data_type, lambda: sorted({t for t, _ in self.data}), "data"),
            "module": _LazyObject(self.module_call, lambda: sorted(self.modules), "module"),
        }
        for rtype in {t for t, _ in self.resources}:
            b[rtype] = _LazyObject(lambda name, t=rtype: self.resource(t, name),
                                   lambda t=rtype: sorted(n for tt, n in self.resources if tt == t), rtype)
        return b

    def var_value(self, name):
        if name not in self.variables:
            raise HclError(f"{self.where}: no variable {name!r} is declared")
        if name in self.inputs:
            return self.inputs[name]
        block = self.variables[name]
        if "default" not in block:
            raise HclError(f"{self.where}: the required variable {name!r} has no value")
        return evaluate_json(block["default"], Scope({}, origin=f"{self.where}: default of var.{name}"))

    def local_value(self, name):
        if name in self._local_cache:
            return self._local_cache[name]
        if name not in self.locals:
            raise HclError(f"{self.where}: no local {name!r} is defined")
        if name in self._local_busy:
            raise HclError(f"{self.where}: local.{name} depends on itself")
        self._local_busy.add(name)
        try:
            s = self.scope.child({})
            s.origin = f"{self.where}/{self.local_origin[name]}: local.{name}"
            value = evaluate_json(self.locals[name], s)
        finally:
            self._local_busy.discard(name)
        self._local_cache[name] = value
        return value

    def _data_type(self, rtype):
        names = {n for t, n in self.data if t == rtype}
        if not names:
            raise HclError(f"{self.where}: no data source of type {rtype!r}")
        stub = self.data_stubs.get(rtype)
        if stub is None:
            raise HclError(f"{self.where}: no stub for the data source type {rtype!r}")
        return {n: stub for n in names}

    def resource(self, rtype, name):
        if (rtype, name) not in self.resources:
            raise HclError(f"{self.where}: no resource {rtype}.{name}")
        body = self.resources[(rtype, name)]
        if "count" in body:
            s = self.scope.child({})
            s.origin = f"{self.where}: count of {rtype}.{name}"
            n = int(to_num(evaluate_json(body["count"], s), s.origin))
            return [ResourceInstance(self, rtype, name, body, i) for i in range(n)]
        if "for_each" in body:
            return {k: ResourceInstance(self, rtype, name, body, None, each={"key": k, "value": v})
                    for k, v in self._for_each(body, f"{rtype}.{name}").items()}
        return ResourceInstance(self, rtype, name, body, None)

    def _for_each(self, body, what):
        """for_each of a resource or module call: a map, or a set of strings (keys = values)."""
        s = self.scope.child({})
        s.origin = f"{self.where}: for_each of {what}"
        coll = evaluate_json(body["for_each"], s)
        if isinstance(coll, list):
            coll = {to_str(x, s.origin): x for x in coll}
        if not isinstance(coll, dict):
            raise HclError(f"{s.origin}: for_each needs a map or a set of strings, got a {kind(coll)}")
        return coll

    def module_call(self, name):
        if name in self._module_cache:
            return self._module_cache[name]
        if name not in self.modules:
            raise HclError(f"{self.where}: no module {name!r}")
        block = self.modules[name]
        if "for_each" in block:
            call = {k: self._module_instance(name, block, {"key": k, "value": v}) for k, v in self._for_each(block, f"module.{name}").items()}
        else:
            call = self._module_instance(name, block, None)
        self._module_cache[name] = call
        return call

    def _module_instance(self, name, block, each):
        child_dir = os.path.normpath(os.path.join(self.dir, block["source"]))
        label = f"module.{name}" if each is None else f"module.{name}[{json.dumps(each['key'])}]"
        args = {}
        for key, value in block.items():
            if key in ("source", "version", "providers", "depends_on", "count", "for_each"):
                continue
            s = self.scope.child({"each": each} if each is not None else {})
            s.origin = f"{self.where}: {label}.{key}"
            args[key] = evaluate_json(value, s)
        child = Module(child_dir, self.parse(child_dir), args, self.data_stubs, where=label, parse=self.parse)
        return ModuleCall(child)

    def output(self, name):
        if name not in self.outputs:
            raise HclError(f"{self.where}: no output {name!r}")
        s = self.scope.child({})
        s.origin = f"{self.where}: output.{name}"
        return evaluate_json(self.outputs[name]["value"], s)

    # -- checks as a plan would make them
    def validation_errors(self):
        """Messages of the failing variable validations and of file() calls in locals."""
        missing = [f"The required variable {name!r} has no value" for name, block in sorted(self.variables.items())
                   if name not in self.inputs and "default" not in block]
        if missing:
            return missing  # a plan stops here
        errors = []
        for name, block in sorted(self.variables.items()):
            for rule in block.get("validation", []):
                s = self.scope.child({})
                s.origin = f"{self.where}: validation of var.{name}"
                ok = evaluate_json(rule["condition"], s)
                if not to_bool(ok, s.origin):
                    errors.append(rule["error_message"])
        for name in sorted(self.locals):
            try:
                self.local_value(name)
            except HclFileError as e:
                errors.append(e.path)
        # Preconditions (Terraform >= 1.2) of outputs, and of each resource instance planned.
        for name, block in sorted(self.outputs.items()):
            for rule in block.get("precondition", []):
                s = self.scope.child({})
                s.origin = f"{self.where}: precondition of output.{name}"
                if not to_bool(evaluate_json(rule["condition"], s), s.origin):
                    errors.append(rule["error_message"])
        for (rtype, name), body in sorted(self.resources.items()):
            rules = [r for lc in body.get("lifecycle", []) for r in lc.get("precondition", [])]
            if not rules:
                continue
            found = self.resource(rtype, name)
            for inst in (found if isinstance(found, list) else list(found.values()) if isinstance(found, dict) else [found]):
                for rule in rules:
                    s = inst.scope()
                    s.origin = f"{self.where}: precondition of {inst}"
                    if not to_bool(evaluate_json(rule["condition"], s), s.origin):
                        errors.append(rule["error_message"])
        return errors


class _LazyObject(Ref):
    def __init__(self, getter, names, label):
        self.getter, self.names, self.label = getter, names, label

    def __str__(self):
        return self.label

    def attr(self, name):
        return self.getter(name)

    def as_object(self):
        return {n: self.getter(n) for n in self.names()}
