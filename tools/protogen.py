#!/usr/bin/env python3
"""protogen.py - C codecs from a protocol definition (docs/protocols.md).

    protogen.py --errno abi/include/abi/errno.h protocols/mbus/mbus.proto OUTDIR

writes OUTDIR/mbus.h (constants, enums, one struct per record and message,
the codec prototypes) and OUTDIR/mbus.c (the codecs, built on rill/proto.h).

The definition language, one declaration per line, '#' starts a comment
(a comment after a field or value is copied into the generated header):

    protocol NAME ID version V       first line: name, u32 id, version 1..255
    errors E1 E2 ...                 errors any reply may carry (RILL_E* names)
    limit NAME VALUE                 a named bound
    enum NAME u8|u16|u32             values, one 'NAME NUMBER' a line, then 'end'
    bits NAME u8|u16|u32|u64         flags, one 'NAME VALUE' a line, then 'end'
    record NAME                      fields, then 'end'
    message NAME ID request|event [-> REPLY]
    message NAME ID reply [errors E1 E2 ...]
                                     fields, then 'end'
Fields:
    u8|u16|u32|u64|i8|i16|i32|i64 NAME [LO..HI]
    bool NAME
    ENUM NAME / BITS NAME
    string NAME MAX                  at most MAX bytes, no NUL inside
    bytes NAME MAX
    array TYPE NAME MAX              TYPE: an integer, bool, enum, bits or record
    handle NAME / handle? NAME       a slot of the pushed handles (messages only)
Bounds (MAX, LO, HI) are numbers or limit names.
"""
import argparse
import os
import re
import sys

INTS = {"u8": (1, False), "u16": (2, False), "u32": (4, False), "u64": (8, False),
        "i8": (1, True), "i16": (2, True), "i32": (4, True), "i64": (8, True)}
KINDS = {"request": "RL_PROTO_REQUEST", "reply": "RL_PROTO_REPLY", "event": "RL_PROTO_EVENT"}
IDENT = re.compile(r"^[a-z][a-z0-9_]*$")
MSG_MAX = 4096
MAX_HANDLES = 8


class DefError(Exception):
    pass


def ctype_int(t):
    size, signed = INTS[t]
    return f"{'int' if signed else 'uint'}{size * 8}_t"


class Proto:
    def __init__(self):
        self.name = None
        self.id = None
        self.version = None
        self.errors = []
        self.limits = {}        # name -> value
        self.enums = {}         # name -> (base, [(vname, value, comment)])
        self.bits = {}          # name -> (base, [(fname, value, comment)])
        self.records = {}       # name -> [field]
        self.messages = []      # dicts
        self.order = []         # ('enum'|'bits'|'record', name) in file order


def parse_errno(path):
    names = {}
    for line in open(path):
        m = re.match(r"#define\s+RILL_(E[A-Z0-9]+)\s+(\d+)", line)
        if m:
            names[m.group(1)] = int(m.group(2))
    return names


def parse(path, errnos):
    p = Proto()
    block = None    # (kind, name, list)
    where = ""

    def fail(msg):
        raise DefError(f"{where}: {msg}")

    def number(tok):
        if tok in p.limits:
            return p.limits[tok]
        try:
            return int(tok, 0)
        except ValueError:
            fail(f"not a number or limit: {tok!r}")

    def ident(tok, what):
        if not IDENT.match(tok):
            fail(f"bad {what} name {tok!r} (lower case, digits, _)")
        return tok

    def errlist(toks):
        out = []
        for t in toks:
            if t not in errnos:
                fail(f"unknown error {t!r} (not in errno.h)")
            if t in out:
                fail(f"error {t} listed twice")
            out.append(t)
        return out

    def field(toks, comment, in_message):
        t = toks[0]
        f = {"comment": comment}
        if t in INTS or t == "bool":
            if len(toks) not in (2, 3) or (t == "bool" and len(toks) != 2):
                fail("expected: TYPE NAME [LO..HI]")
            f.update(kind="int" if t != "bool" else "bool", type=t, name=toks[1])
            if len(toks) == 3:
                m = re.match(r"^(-?[\w]+)\.\.(-?[\w]+)$", toks[2])
                if not m:
                    fail("a range is LO..HI")
                lo, hi = number(m.group(1)), number(m.group(2))
                size, signed = INTS[t]
                tmin = -(1 << (size * 8 - 1)) if signed else 0
                tmax = (1 << (size * 8 - 1)) - 1 if signed else (1 << (size * 8)) - 1
                if not tmin <= lo <= hi <= tmax:
                    fail(f"range {lo}..{hi} does not fit {t}")
                f["range"] = (lo, hi)
        elif t in p.enums or t in p.bits:
            if len(toks) != 2:
                fail("expected: TYPE NAME")
            f.update(kind="enum" if t in p.enums else "bits", type=t, name=toks[1])
        elif t in ("string", "bytes"):
            if len(toks) != 3:
                fail(f"expected: {t} NAME MAX")
            f.update(kind=t, name=toks[1], max=number(toks[2]), maxtok=toks[2])
            if not 1 <= f["max"] <= MSG_MAX:
                fail(f"{t} maximum {f['max']} outside 1..{MSG_MAX}")
        elif t == "array":
            if len(toks) != 4:
                fail("expected: array TYPE NAME MAX")
            elem = field([toks[1], "x"], "", False)
            if elem["kind"] not in ("int", "bool", "enum", "bits", "record"):
                fail("arrays hold integers, bools, enums, bits or records")
            f.update(kind="array", elem=elem, name=toks[2], max=number(toks[3]), maxtok=toks[3])
            if not 1 <= f["max"] <= MSG_MAX:
                fail(f"array maximum {f['max']} outside 1..{MSG_MAX}")
        elif t in ("handle", "handle?"):
            if not in_message:
                fail("handles belong to messages, not records or arrays")
            if len(toks) != 2:
                fail("expected: handle NAME")
            f.update(kind="handle", optional=t == "handle?", name=toks[1])
        elif t in p.records:
            if len(toks) != 2:
                fail("expected: RECORD NAME")
            f.update(kind="record", type=t, name=toks[1])
        else:
            fail(f"unknown type {t!r}")
        ident(f["name"], "field")
        return f

    for lineno, raw in enumerate(open(path), 1):
        where = f"{path}:{lineno}"
        line, _, comment = raw.partition("#")
        comment = comment.strip()
        toks = line.split()
        if not toks:
            continue
        if p.name is None:
            if len(toks) != 5 or toks[0] != "protocol" or toks[3] != "version":
                fail("the first line is: protocol NAME ID version V")
            p.name = ident(toks[1], "protocol")
            p.id = number(toks[2])
            p.version = number(toks[4])
            if not 0 < p.id < 1 << 32 or not 0 < p.version < 256:
                fail("id is a non-zero u32, version 1..255")
            continue
        if block:
            kind, name, items = block
            if toks == ["end"]:
                if not items and kind in ("enum", "bits"):
                    fail(f"{kind} {name} is empty")
                block = None
                continue
            if kind in ("enum", "bits"):
                if len(toks) != 2:
                    fail("expected: NAME VALUE")
                v = number(toks[1])
                base = (p.enums if kind == "enum" else p.bits)[name][0]
                bmax = 0x7fffffff if kind == "enum" else (1 << (INTS[base][0] * 8)) - 1
                if not 0 <= v <= bmax:
                    fail(f"value {v} outside {base}")
                if kind == "bits" and (v == 0 or v & (v - 1)):
                    fail("a flag is one bit")
                if any(n == toks[0] or x == v for n, x, _ in items):
                    fail(f"{toks[0]} or {v} listed twice")
                items.append((ident(toks[0], "value"), v, comment))
            else:
                f = field(toks, comment, kind == "message")
                if any(g["name"] == f["name"] for g in items):
                    fail(f"field {f['name']} twice")
                if f["name"] == "error" and kind == "message":
                    fail("'error' is the reply header's")
                items.append(f)
            continue
        d = toks[0]
        if d == "errors":
            p.errors = errlist(toks[1:])
        elif d == "limit":
            if len(toks) != 3 or not re.match(r"^[A-Z][A-Z0-9_]*$", toks[1]):
                fail("expected: limit NAME VALUE (NAME in upper case)")
            p.limits[toks[1]] = number(toks[2])
        elif d in ("enum", "bits"):
            if len(toks) != 3 or toks[2] not in INTS or INTS[toks[2]][1] or \
               (d == "enum" and toks[2] == "u64"):
                fail(f"expected: {d} NAME u8|u16|u32" + ("|u64" if d == "bits" else ""))
            name = ident(toks[1], d)
            items = []
            (p.enums if d == "enum" else p.bits)[name] = (toks[2], items)
            p.order.append((d, name))
            block = (d, name, items)
        elif d == "record":
            if len(toks) != 2:
                fail("expected: record NAME")
            name = ident(toks[1], "record")
            items = []
            p.records[name] = items
            p.order.append(("record", name))
            block = ("record", name, items)
        elif d == "message":
            if len(toks) < 4 or toks[3] not in KINDS:
                fail("expected: message NAME ID request|reply|event ...")
            m = {"name": ident(toks[1], "message"), "id": number(toks[2]), "kind": toks[3],
                 "reply": None, "errors": [], "fields": [], "comment": comment}
            rest = toks[4:]
            if rest and rest[0] == "->":
                if m["kind"] != "request" or len(rest) != 2:
                    fail("only a request names its reply: -> NAME")
                m["reply"] = rest[1]
            elif rest and rest[0] == "errors":
                if m["kind"] != "reply":
                    fail("only replies list errors")
                m["errors"] = errlist(rest[1:])
            elif rest:
                fail(f"unexpected {' '.join(rest)!r}")
            if not 0 <= m["id"] < 1 << 16:
                fail("a message id is a u16")
            p.messages.append(m)
            block = ("message", m["name"], m["fields"])
        else:
            fail(f"unknown declaration {d!r}")
    if block:
        raise DefError(f"{path}: {block[0]} {block[1]} has no 'end'")
    if p.name is None:
        raise DefError(f"{path}: empty")
    check(p, path)
    return p


def check(p, path):
    names = set()
    for kind, n in p.order:
        if n in names:
            raise DefError(f"{path}: name {n} used twice")
        names.add(n)
    ids = {}
    for m in p.messages:
        if m["name"] in names:
            raise DefError(f"{path}: name {m['name']} used twice")
        names.add(m["name"])
        if m["id"] in ids:
            raise DefError(f"{path}: message id {m['id']} of {m['name']} and {ids[m['id']]}")
        ids[m["id"]] = m["name"]
        nh = sum(f["kind"] == "handle" for f in m["fields"])
        if nh > MAX_HANDLES:
            raise DefError(f"{path}: {m['name']} has more than {MAX_HANDLES} handles")
        m["handles"] = nh
        m["max"] = 16 + sum(wire_max(p, f) for f in m["fields"]) + 7
        m["max"] -= m["max"] % 8
        if m["max"] > MSG_MAX:
            raise DefError(f"{path}: {m['name']} can take {m['max']} bytes, above {MSG_MAX}")
    zero = [m for m in p.messages if m["id"] == 0]
    if not zero or zero[0]["kind"] != "reply" or zero[0]["fields"] or zero[0]["errors"]:
        raise DefError(f"{path}: message 0 must be the error-only reply "
                       "('message refused 0 reply' with no fields)")
    byname = {m["name"]: m for m in p.messages}
    for m in p.messages:
        if m["reply"] and (m["reply"] not in byname or byname[m["reply"]]["kind"] != "reply"):
            raise DefError(f"{path}: {m['name']} -> {m['reply']}: no such reply")


def wire_max(p, f):
    """Bytes a field can take at most, alignment padding included."""
    k = f["kind"]
    if k in ("int", "bool", "enum", "bits"):
        size = scalar_size(p, f)
        return size + size - 1
    if k == "handle":
        return 1
    if k == "string":
        return 7 + f["max"] + 1
    if k == "bytes":
        return 7 + f["max"]
    if k == "array":
        return 7 + f["max"] * wire_max(p, f["elem"])
    if k == "record":
        return sum(wire_max(p, g) for g in p.records[f["type"]])
    raise AssertionError(k)


def scalar_size(p, f):
    k = f["kind"]
    if k == "bool":
        return 1
    if k == "int":
        return INTS[f["type"]][0]
    base = (p.enums if k == "enum" else p.bits)[f["type"]][0]
    return INTS[base][0]


# --- C output ------------------------------------------------------------------

class Gen:
    def __init__(self, p, errnos):
        self.p = p
        self.errnos = errnos
        self.P = p.name.upper()

    def maxc(self, f):
        """An item's maximum as C: the limit's name where it has one."""
        t = f["maxtok"]
        return f"{self.P}_{t}" if t in self.p.limits else str(f["max"])

    def ctype(self, f):
        """C type of one item of f (an array's element for arrays)."""
        k = f["kind"]
        if k == "int":
            return ctype_int(f["type"])
        if k == "bool":
            return "bool"
        if k == "enum":
            return f"enum {self.p.name}_{f['type']}"
        if k == "bits":
            return ctype_int(self.p.bits[f["type"]][0])
        if k == "record":
            return f"struct {self.p.name}_{f['type']}"
        raise AssertionError(k)

    def member(self, f, ind):
        k = f["kind"]
        c = f" /* {f['comment']} */" if f["comment"] else ""
        if k == "string":
            return [f"{ind}char {f['name']}[{self.maxc(f)} + 1];{c}"]
        if k == "bytes":
            return [f"{ind}uint8_t {f['name']}[{self.maxc(f)}];{c}",
                    f"{ind}uint32_t {f['name']}_len;"]
        if k == "array":
            return [f"{ind}{self.ctype(f['elem'])} {f['name']}[{self.maxc(f)}];{c}",
                    f"{ind}uint32_t {f['name']}_count;"]
        if k == "handle":
            opt = "or RL_PROTO_NO_HANDLE " if f["optional"] else ""
            return [f"{ind}uint8_t {f['name']};\t/* handle slot {opt}*/{c}"]
        return [f"{ind}{self.ctype(f)} {f['name']};{c}"]

    def header(self):
        p, P = self.p, self.P
        o = [f"/* {p.name}.h - generated by tools/protogen.py from protocols/{p.name}/"
             f"{p.name}.proto; do not edit. */",
             f"#ifndef PROTO_{P}_H", f"#define PROTO_{P}_H", "",
             "#include <rill/proto.h>", "",
             f"#define {P}_PROTO_ID\t{p.id:#x}u",
             f"#define {P}_VERSION\t{p.version}"]
        for n, v in p.limits.items():
            o.append(f"#define {P}_{n}\t{v}")
        o.append(f"#define {P}_MSG_MAX\t{max(m['max'] for m in p.messages)}"
                 "\t/* bytes of the largest message */")
        o.append("")
        for kind, n in p.order:
            if kind == "enum":
                o.append(f"enum {p.name}_{n} {{")
                for vn, v, c in p.enums[n][1]:
                    o.append(f"\t{P}_{n.upper()}_{vn.upper()} = {v},"
                             + (f"\t/* {c} */" if c else ""))
                o += ["};", ""]
            elif kind == "bits":
                allb = 0
                for fn, v, c in p.bits[n][1]:
                    o.append(f"#define {P}_{n.upper()}_{fn.upper()}\t{v:#x}u"
                             + (f"\t/* {c} */" if c else ""))
                    allb |= v
                o += [f"#define {P}_{n.upper()}_ALL\t{allb:#x}u", ""]
            else:
                o.append(f"struct {p.name}_{n} {{")
                for f in p.records[n]:
                    o += self.member(f, "\t")
                o += ["};", ""]
        o.append(f"enum {p.name}_msg {{")
        for m in p.messages:
            o.append(f"\t{P}_MSG_{m['name'].upper()} = {m['id']},")
        o += ["};", ""]
        for m in p.messages:
            n = m["name"]
            if m["comment"]:
                o.append(f"/* {m['comment']} */")
            o.append(f"struct {p.name}_{n} {{")
            if m["kind"] == "reply":
                o.append("\tint32_t error;\t/* 0, or -RILL_E*: then nothing else */")
            for f in m["fields"]:
                o += self.member(f, "\t")
            if not m["fields"] and m["kind"] != "reply":
                o.append("\tchar none;\t/* no fields; not sent */")
            o += ["};", f"#define {P}_{n.upper()}_MAX\t{m['max']}", ""]
        for m in p.messages:
            n = m["name"]
            o += [f"int {p.name}_{n}_encode(const struct {p.name}_{n} *m, void *buf, size_t cap);",
                  f"int {p.name}_{n}_decode(const void *buf, size_t len, struct {p.name}_{n} *m);"]
        o += ["", f"union {p.name}_any {{"]
        for m in p.messages:
            o.append(f"\tstruct {p.name}_{m['name']} {m['name']};")
        o += ["};", "",
              "/* The id of the message in buf (header checks only), or -error. */",
              f"int {p.name}_peek(const void *buf, size_t len);",
              "/* Decode whichever message buf holds: its id, or -error. */",
              f"int {p.name}_decode(const void *buf, size_t len, union {p.name}_any *m);",
              f"extern const struct rl_proto_desc {p.name}_proto;",
              "", "#endif", ""]
        return "\n".join(o)

    # Field code. 'v' is the C expression of the value's container, 'w'/'r'
    # the writer/reader pointer. Every check sets the sticky error.

    def enc(self, f, lv, ind, depth):
        p, P = self.p, self.P
        k = f["kind"]
        o = []
        if k == "int":
            size, signed = INTS[f["type"]]
            var = "int64_t" if signed else "uint64_t"
            o.append(f"{ind}{{")
            o.append(f"{ind}\t{var} x = {lv};")
            o += [f"{ind}\t{l}" for l in self.range_check(f, "rl_pw_fail(w, -RILL_ERANGE);")]
            o.append(f"{ind}\trl_pw_uint(w, (uint64_t)x, {size});")
            o.append(f"{ind}}}")
        elif k == "bool":
            o.append(f"{ind}rl_pw_uint(w, {lv} ? 1 : 0, 1);")
        elif k == "enum":
            size = scalar_size(p, f)
            o.append(f"{ind}if (!{p.name}_{f['type']}_valid((uint64_t){lv}))")
            o.append(f"{ind}\trl_pw_fail(w, -RILL_ERANGE);")
            o.append(f"{ind}rl_pw_uint(w, (uint64_t){lv}, {size});")
        elif k == "bits":
            size = scalar_size(p, f)
            o.append(f"{ind}if ((uint64_t){lv} & ~(uint64_t){P}_{f['type'].upper()}_ALL)")
            o.append(f"{ind}\trl_pw_fail(w, -RILL_ERANGE);")
            o.append(f"{ind}rl_pw_uint(w, (uint64_t){lv}, {size});")
        elif k == "string":
            o.append(f"{ind}rl_pw_string(w, {lv}, {self.maxc(f)});")
        elif k == "bytes":
            o.append(f"{ind}rl_pw_blob(w, {lv}, {lv}_len, {self.maxc(f)});")
        elif k == "record":
            o.append(f"{ind}enc_{f['type']}(w, &{lv});")
        elif k == "handle":
            o += [f"{ind}{{",
                  f"{ind}\tint se = rl_proto_slot({lv}, {'true' if f['optional'] else 'false'},"
                  " &mask, &used);", "",
                  f"{ind}\tif (se)", f"{ind}\t\trl_pw_fail(w, se);",
                  f"{ind}\trl_pw_uint(w, {lv}, 1);", f"{ind}}}"]
        elif k == "array":
            i = f"i{depth}"
            o += [f"{ind}if ({lv}_count > {self.maxc(f)}) {{",
                  f"{ind}\trl_pw_fail(w, -RILL_ERANGE);",
                  f"{ind}}} else {{",
                  f"{ind}\trl_pw_uint(w, {lv}_count, 4);",
                  f"{ind}\tfor (uint32_t {i} = 0; {i} < {lv}_count && !w->err; {i}++) {{"]
            o += self.enc(f["elem"], f"{lv}[{i}]", ind + "\t\t", depth + 1)
            o += [f"{ind}\t}}", f"{ind}}}"]
        return o

    def range_check(self, f, action):
        if "range" not in f:
            return []
        lo, hi = f["range"]
        size, signed = INTS[f["type"]]
        tmin = -(1 << (size * 8 - 1)) if signed else 0
        tmax = (1 << (size * 8 - 1)) - 1 if signed else (1 << (size * 8)) - 1
        conds = []
        suffix = "" if signed else "u"
        if lo > tmin:
            conds.append(f"x < {lit(lo, signed)}")
        if hi < tmax:
            conds.append(f"x > {lit(hi, signed)}")
        del suffix
        if not conds:
            return []
        return [f"if ({' || '.join(conds)})", f"\t{action}"]

    def dec(self, f, lv, ind, depth):
        p, P = self.p, self.P
        k = f["kind"]
        o = []
        if k == "int":
            size, signed = INTS[f["type"]]
            ct = ctype_int(f["type"])
            o.append(f"{ind}{{")
            if signed:
                o.append(f"{ind}\tint64_t x = ({ct})(u{ct})rl_pr_uint(r, {size});")
            else:
                o.append(f"{ind}\tuint64_t x = rl_pr_uint(r, {size});")
            o.append("")
            o += [f"{ind}\t{l}" for l in self.range_check(f, "rl_pr_fail(r, -RILL_ERANGE);")]
            o.append(f"{ind}\t{lv} = ({ct})x;")
            o.append(f"{ind}}}")
        elif k == "bool":
            o += [f"{ind}{{", f"{ind}\tuint64_t x = rl_pr_uint(r, 1);", "",
                  f"{ind}\tif (x > 1)", f"{ind}\t\trl_pr_fail(r, -RILL_EINVAL);",
                  f"{ind}\t{lv} = x == 1;", f"{ind}}}"]
        elif k == "enum":
            size = scalar_size(p, f)
            o += [f"{ind}{{", f"{ind}\tuint64_t x = rl_pr_uint(r, {size});", "",
                  f"{ind}\tif (!{p.name}_{f['type']}_valid(x))",
                  f"{ind}\t\trl_pr_fail(r, -RILL_ERANGE);",
                  f"{ind}\telse",
                  f"{ind}\t\t{lv} = ({self.ctype(f)})x;", f"{ind}}}"]
        elif k == "bits":
            size = scalar_size(p, f)
            o += [f"{ind}{{", f"{ind}\tuint64_t x = rl_pr_uint(r, {size});", "",
                  f"{ind}\tif (x & ~(uint64_t){P}_{f['type'].upper()}_ALL)",
                  f"{ind}\t\trl_pr_fail(r, -RILL_ERANGE);",
                  f"{ind}\t{lv} = ({self.ctype(f)})x;", f"{ind}}}"]
        elif k == "string":
            o.append(f"{ind}rl_pr_string(r, {lv}, {self.maxc(f)});")
        elif k == "bytes":
            o.append(f"{ind}rl_pr_blob(r, {lv}, &{lv}_len, {self.maxc(f)});")
        elif k == "record":
            o.append(f"{ind}dec_{f['type']}(r, &{lv});")
        elif k == "handle":
            o += [f"{ind}{lv} = (uint8_t)rl_pr_uint(r, 1);",
                  f"{ind}if (!r->err) {{",
                  f"{ind}\tint se = rl_proto_slot({lv}, {'true' if f['optional'] else 'false'},"
                  " &mask, &used);", "",
                  f"{ind}\tif (se)", f"{ind}\t\trl_pr_fail(r, se);", f"{ind}}}"]
        elif k == "array":
            i = f"i{depth}"
            o += [f"{ind}{lv}_count = rl_pr_count(r, {self.maxc(f)});",
                  f"{ind}for (uint32_t {i} = 0; {i} < {lv}_count && !r->err; {i}++)"]
            inner = self.dec(f["elem"], f"{lv}[{i}]", ind + "\t", depth + 1)
            if len(inner) > 1:
                o[-1] += " {"
                o += inner + [f"{ind}}}"]
            else:
                o += inner
        return o

    def errors_ok(self, m):
        errs = list(self.p.errors) + [e for e in m["errors"] if e not in self.p.errors]
        name = f"{self.p.name}_{m['name']}_error_ok"
        o = [f"static bool {name}(int32_t error)", "{", "\tswitch (error) {"]
        for e in errs:
            o.append(f"\tcase -RILL_{e}:")
        if errs:
            o.append("\t\treturn true;")
        o += ["\tdefault:", "\t\treturn false;", "\t}", "}", ""]
        return o

    def source(self):
        p, P = self.p, self.P
        o = [f"/* {p.name}.c - generated by tools/protogen.py from protocols/{p.name}/"
             f"{p.name}.proto; do not edit. */",
             f'#include "{p.name}.h"', ""]
        for kind, n in p.order:
            if kind == "enum":
                o += [f"static inline bool {p.name}_{n}_valid(uint64_t v)", "{", "\tswitch (v) {"]
                for vn, v, c in p.enums[n][1]:
                    o.append(f"\tcase {P}_{n.upper()}_{vn.upper()}:")
                o += ["\t\treturn true;", "\tdefault:", "\t\treturn false;", "\t}", "}", ""]
            elif kind == "record":
                fs = p.records[n]
                o += [f"static inline void enc_{n}(struct rl_proto_w *w, const struct {p.name}_{n} *v)",
                      "{"]
                for f in fs:
                    o += self.enc(f, f"v->{f['name']}", "\t", 0)
                o += ["}", "",
                      f"static inline void dec_{n}(struct rl_proto_r *r, struct {p.name}_{n} *v)", "{"]
                for f in fs:
                    o += self.dec(f, f"v->{f['name']}", "\t", 0)
                o += ["}", ""]
        for m in p.messages:
            o += self.message(m)
        # The table and the dispatchers.
        for m in p.messages:
            n = m["name"]
            o += [f"static int any_{n}_encode(const void *m, void *buf, size_t cap)", "{",
                  f"\treturn {p.name}_{n}_encode(m, buf, cap);", "}", "",
                  f"static int any_{n}_decode(const void *buf, size_t len, void *m)", "{",
                  f"\treturn {p.name}_{n}_decode(buf, len, m);", "}", ""]
        o.append(f"static const struct rl_proto_msg_desc {p.name}_msgs[] = {{")
        byname = {m["name"]: m for m in p.messages}
        for m in p.messages:
            n = m["name"]
            reply = byname[m["reply"]]["id"] if m["reply"] else 0
            o += [f"\t{{ .name = \"{n}\", .id = {P}_MSG_{n.upper()}, .kind = {KINDS[m['kind']]},",
                  f"\t  .reply = {reply}, .size = sizeof(struct {p.name}_{n}),"
                  f" .max = {P}_{n.upper()}_MAX,",
                  f"\t  .handles = {m['handles']}, .encode = any_{n}_encode,"
                  f" .decode = any_{n}_decode }},"]
        o += ["};", "",
              f"const struct rl_proto_desc {p.name}_proto = {{",
              f"\t.name = \"{p.name}\", .id = {P}_PROTO_ID, .version = {P}_VERSION,",
              f"\t.max = {P}_MSG_MAX, .count = sizeof({p.name}_msgs) / sizeof({p.name}_msgs[0]),",
              f"\t.msgs = {p.name}_msgs,", "};", "",
              f"int {p.name}_peek(const void *buf, size_t len)", "{",
              "\tstruct rl_proto_hdr h;",
              f"\tint e = rl_proto_hdr_read(buf, len, {P}_PROTO_ID, {P}_VERSION, {P}_MSG_MAX, &h);",
              "", "\tif (e)", "\t\treturn e;", "\tswitch (h.msg) {"]
        for m in p.messages:
            o.append(f"\tcase {P}_MSG_{m['name'].upper()}:")
        o += ["\t\treturn h.msg;", "\tdefault:", "\t\treturn -RILL_EPROTO;", "\t}", "}", "",
              f"int {p.name}_decode(const void *buf, size_t len, union {p.name}_any *m)", "{",
              f"\tint id = {p.name}_peek(buf, len);", "", "\tswitch (id) {"]
        for m in p.messages:
            n = m["name"]
            o += [f"\tcase {P}_MSG_{n.upper()}:",
                  f"\t\treturn {p.name}_{n}_decode(buf, len, &m->{n}) ?: id;"]
        o += ["\tdefault:", "\t\treturn id;", "\t}", "}", ""]
        return "\n".join(o)

    def message(self, m):
        p, P = self.p, self.P
        n = m["name"]
        s = f"struct {p.name}_{n}"
        MID = f"{P}_MSG_{n.upper()}"
        reply = m["kind"] == "reply"
        zero = m["id"] == 0
        hs = m["handles"] > 0
        o = []
        if reply:
            o += self.errors_ok(m)
        # encode
        o += [f"int {p.name}_{n}_encode(const {s} *m, void *buf, size_t cap)", "{",
              "\tstruct rl_proto_w ws, *w = &ws;"]
        if hs:
            o.append("\tunsigned mask = 0, used = 0;")
        o.append("")
        if reply:
            o += ["\tif (m->error) {",
                  f"\t\tif (!{p.name}_{n}_error_ok(m->error))",
                  "\t\t\treturn -RILL_ERANGE;",
                  f"\t\trl_proto_begin(w, buf, cap, {P}_PROTO_ID, {P}_VERSION, {MID}, m->error);",
                  "\t\treturn rl_proto_end(w, 0);", "\t}"]
            if zero:
                o += ["\treturn -RILL_EINVAL;\t/* refused says why */", "}", ""]
        if not zero:
            o.append(f"\trl_proto_begin(w, buf, cap, {P}_PROTO_ID, {P}_VERSION, {MID}, 0);")
            for f in m["fields"]:
                o += self.enc(f, f"m->{f['name']}", "\t", 0)
            if hs:
                o += ["\tif (!w->err)", "\t\trl_pw_fail(w, rl_proto_slots_done(mask, used));",
                      "\treturn rl_proto_end(w, used);", "}", ""]
            else:
                o += ["\treturn rl_proto_end(w, 0);", "}", ""]
        # decode
        o += [f"int {p.name}_{n}_decode(const void *buf, size_t len, {s} *m)", "{",
              "\tstruct rl_proto_hdr h;"]
        if not zero:
            o.append("\tstruct rl_proto_r rs = { .p = buf, .len = len, .off = RL_PROTO_HDR_SIZE }, *r = &rs;")
        o += [f"\tint e = rl_proto_hdr_read(buf, len, {P}_PROTO_ID, {P}_VERSION,"
              f" {P}_MSG_MAX, &h);"]
        if hs:
            o.append("\tunsigned mask = 0, used = 0;")
        o += ["", "\tif (e)", "\t\treturn e;", f"\tif (h.msg != {MID})", "\t\treturn -RILL_EPROTO;",
              f"\tif (len > {P}_{n.upper()}_MAX)", "\t\treturn -RILL_EMSGSIZE;",
              "\t__builtin_memset(m, 0, sizeof(*m));"]
        if reply:
            o += ["\tif (h.error) {",
                  f"\t\tif (!{p.name}_{n}_error_ok(h.error))", "\t\t\treturn -RILL_ERANGE;",
                  "\t\tif (len != RL_PROTO_HDR_SIZE)", "\t\t\treturn -RILL_EMSGSIZE;",
                  "\t\tif (h.handles)", "\t\t\treturn -RILL_EINVAL;",
                  "\t\tm->error = h.error;", "\t\treturn 0;", "\t}"]
            if zero:
                o += ["\treturn -RILL_EINVAL;\t/* refused says why */", "}", ""]
                return o
        else:
            o += ["\tif (h.error)", "\t\treturn -RILL_EINVAL;"]
        o += [f"\tif (h.handles > {m['handles']})", "\t\treturn -RILL_EINVAL;"]
        for f in m["fields"]:
            o += self.dec(f, f"m->{f['name']}", "\t", 0)
        o += ["\te = rl_proto_finish(r);", "\tif (e)", "\t\treturn e;"]
        if hs:
            o += ["\tif (rl_proto_slots_done(mask, used) || used != h.handles)",
                  "\t\treturn -RILL_EINVAL;"]
        o += ["\treturn 0;", "}", ""]
        return o


def lit(v, signed):
    if signed:
        if v == -(1 << 63):
            return "INT64_MIN"
        return f"{v}ll" if v < 0 else f"{v}"
    return f"{v}u"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--errno", required=True, help="abi/include/abi/errno.h")
    ap.add_argument("definition")
    ap.add_argument("outdir")
    a = ap.parse_args()
    try:
        p = parse(a.definition, parse_errno(a.errno))
    except DefError as e:
        print(f"protogen: {e}", file=sys.stderr)
        return 1
    base = os.path.splitext(os.path.basename(a.definition))[0]
    if base != p.name:
        print(f"protogen: {a.definition} defines protocol {p.name}", file=sys.stderr)
        return 1
    os.makedirs(a.outdir, exist_ok=True)
    g = Gen(p, None)
    for ext, text in (("h", g.header()), ("c", g.source())):
        path = os.path.join(a.outdir, f"{p.name}.{ext}")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
