#!/usr/bin/python3
"""tokenizer.json added-token and long-input checks for qrealign-tokenize.

Fixtures come from make-bpe-tokenizer.py (byte-level pieces with id = byte
value) without merges unless stated, so that the ids of plain text are its
bytes and the ids tell exactly where added tokens were split out.

  bpe_tok.py add-tokens JSON --count N [--seed N] [--alphabet CHARS]
      [--min-len N] [--max-len N]
  bpe_tok.py check-added-random TOOL JSON WORKDIR [--count N] [--seed N]
  bpe_tok.py check-added-long TOOL JSON WORKDIR [--bytes N] [--seed N]
  bpe_tok.py check-hostile TOOL JSON WORKDIR [--bytes N] [--regex PATTERN]

add-tokens appends random added tokens (ids after the largest id) to a
tokenizer.json, written compactly with only "id", "content" and "special":
some share prefixes, some are duplicates of others (a later id with the same
content).

check-added-random encodes seeded random strings over the tokens' alphabet
and compares the ids with the splitting qrealign had before the trie (try
every added token at each position, longest first, the first listed among
equal lengths, honouring ByteLevel add_prefix_space).

check-added-long encodes one long prompt (default 1 MiB) of words joined by
spaces (no added token may hold a space, so no match crosses one) and
compares its ids with the same splitting, done once per distinct word;
trying each of 50,000 added tokens at each position took minutes, the tool
must not.

check-hostile encodes long prompts built to stress the pre-tokenizer and the
merge loop (one letter repeated, only spaces, only newlines, no spaces, long
digit runs, mixed scripts, alternating punctuation and spaces) with a
tokenizer whose merges are "a a", "aa aa", "aaaa aaaa", "Ġ Ġ", "ĠĠ ĠĠ":
each output must decode to its prompt, its pre-tokens must join to it, and
the letter and space runs must merge to the ids worked out below. With
--regex (the pattern, or @FILE holding it), pre-tokens must also equal
Python `regex` findall's.

Exits 1 and lists the first mismatches.
"""
import argparse
import json
import os
import random
import subprocess
import sys


def escape(text):
    return (text.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r").replace(b"\t", b"\\t"))


def run_tool(tool, tok, workdir, name, texts):
    prompts = os.path.join(workdir, name + ".txt")
    with open(prompts, "wb") as f:
        for t in texts:
            f.write(escape(t) + b"\n")
    out = os.path.join(workdir, name + ".jsonl")
    subprocess.run([tool, tok, "--prompts-file", prompts, "-o", out],
                   check=True)
    with open(out, encoding="utf-8") as f:
        results = [json.loads(line) for line in f]
    if len(results) != len(texts):
        sys.exit("%d results for %d prompts" % (len(results), len(texts)))
    return results


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def add_tokens(args):
    doc = load(args.json)
    rng = random.Random(args.seed)
    next_id = max(list(doc["model"]["vocab"].values()) +
                  [t["id"] for t in doc["added_tokens"]]) + 1
    alphabet = list(args.alphabet)
    contents = [t["content"] for t in doc["added_tokens"]]
    seen = set(contents)
    while len(contents) < len(doc["added_tokens"]) + args.count:
        r = rng.random()
        if contents and r < 0.02:
            c = rng.choice(contents)  # a duplicate: a later id, same text
        elif contents and r < 0.3:
            # An extension or a prefix of an earlier token.
            base = rng.choice(contents)
            c = (base[:rng.randint(1, len(base))] +
                 "".join(rng.choice(alphabet)
                         for _ in range(rng.randint(0, 3))))
        else:
            c = "".join(rng.choice(alphabet) for _ in
                        range(rng.randint(args.min_len, args.max_len)))
        if not c or (c in seen and r >= 0.02):
            continue
        seen.add(c)
        contents.append(c)
    for c in contents[len(doc["added_tokens"]):]:
        # Only what qrealign reads, so that many tokens load quickly.
        doc["added_tokens"].append({"id": next_id, "content": c,
                                    "special": rng.random() < 0.5})
        next_id += 1
    with open(args.json, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))
    return 0


class Splitter:
    """The splitting qrealign did before the trie, made quick where it can
    be: the longest added token at a position, the first listed of equal
    contents."""

    def __init__(self, doc):
        self.ids = {}
        for t in doc["added_tokens"]:
            self.ids.setdefault(t["content"].encode(), t["id"])
        self.lengths = sorted({len(c) for c in self.ids}, reverse=True)
        pre = doc["pre_tokenizer"]
        steps = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
        self.prefix_space = any(s.get("add_prefix_space") for s in steps
                                if s["type"] == "ByteLevel")

    def ids_of(self, text, prefix=True):
        """The ids of `text` with no merges: bytes, and added tokens."""
        if prefix and self.prefix_space and text and text[:1] != b" ":
            text = b" " + text
        out = []
        i, n = 0, len(text)
        while i < n:
            for length in self.lengths:
                if i + length <= n:
                    hit = self.ids.get(text[i:i + length])
                    if hit is not None:
                        out.append(hit)
                        i += length
                        break
            else:
                out.append(text[i])
                i += 1
        return out


def reference_split(doc, text):
    """The old loop itself: stable sort longest first, try each in turn."""
    added = sorted(doc["added_tokens"], key=lambda t: -len(
        t["content"].encode()))
    pre = doc["pre_tokenizer"]
    steps = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]
    if (any(s.get("add_prefix_space") for s in steps
            if s["type"] == "ByteLevel") and text and text[:1] != b" "):
        text = b" " + text
    out = []
    i = 0
    while i < len(text):
        for a in added:
            c = a["content"].encode()
            if text.startswith(c, i):
                out.append(a["id"])
                i += len(c)
                break
        else:
            out.append(text[i])
            i += 1
    return out


def check_added_random(args):
    doc = load(args.json)
    if doc["model"]["merges"]:
        sys.exit("the fixture must have no merges")
    rng = random.Random(args.seed)
    contents = [t["content"] for t in doc["added_tokens"]]
    chars = sorted(set("".join(contents)) | set(" x\n"))
    texts = []
    for _ in range(args.count):
        parts = []
        for _ in range(rng.randint(0, 12)):
            if rng.random() < 0.4:
                c = rng.choice(contents)
                # Whole, cut short, or with a neighbour glued on.
                cut = rng.random()
                if cut < 0.2:
                    c = c[:rng.randint(0, len(c))]
                elif cut < 0.4:
                    c = c[rng.randint(0, len(c)):]
                parts.append(c)
            else:
                parts.append("".join(rng.choice(chars)
                                     for _ in range(rng.randint(1, 4))))
        texts.append("".join(parts).encode())
    results = run_tool(args.tool, args.json, args.workdir, "random", texts)
    split = Splitter(doc)
    bad = []
    hits = 0
    for t, r in zip(texts, results):
        want = reference_split(doc, t)
        if split.ids_of(t) != want:
            sys.exit("the quick splitter disagrees with the reference")
        hits += sum(1 for i in want if i >= 256)
        if r["ids"] != want:
            bad.append((t, r["ids"], want))
    for t, g, w in bad[:5]:
        print("MISMATCH %r\n  tool   %s\n  oracle %s" % (t, g, w))
    print("added tokens: %d/%d texts split as before" %
          (len(texts) - len(bad), len(texts)))
    print("(%d added tokens matched)" % hits, file=sys.stderr)
    return 1 if bad else 0


def check_added_long(args):
    doc = load(args.json)
    if doc["model"]["merges"]:
        sys.exit("the fixture must have no merges")
    split = Splitter(doc)
    if split.prefix_space or any(b" " in c for c in split.ids):
        sys.exit("added tokens must not hold a space, nor a prefix space")
    rng = random.Random(args.seed)
    contents = [t["content"] for t in doc["added_tokens"]]
    chars = sorted(set("".join(contents)))
    # Words of random characters (each of which starts some added token, so
    # the old loop tried every token there), with whole added tokens and
    # pieces of them here and there.
    pool = []
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.15:
                parts.append(rng.choice(contents))
            elif r < 0.3:
                c = rng.choice(contents)
                parts.append(c[:rng.randint(1, len(c))])
            else:
                parts.append("".join(rng.choice(chars)
                                     for _ in range(rng.randint(1, 10))))
        pool.append("".join(parts).encode())
    words = []
    size = 0
    while size < args.bytes:
        words.append(rng.randrange(len(pool)))
        size += len(pool[words[-1]]) + 1
    text = b" ".join(pool[i] for i in words)
    memo = {}
    want = []
    for k, i in enumerate(words):
        if k:
            want.append(ord(" "))
        if i not in memo:
            memo[i] = split.ids_of(pool[i], prefix=False)
        want.extend(memo[i])
    (r,) = run_tool(args.tool, args.json, args.workdir, "long", [text])
    got = r["ids"]
    hits = sum(1 for i in want if i >= 256)
    print("added tokens: %d bytes -> %d ids, %d of them added tokens"
          % (len(text), len(got), hits))
    if got != want:
        k = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b),
                 min(len(got), len(want)))
        print("MISMATCH at id %d of %d (expected %d ids): tool %s, "
              "expected %s" % (k, len(got), len(want), got[k:k + 10],
                               want[k:k + 10]))
        return 1
    print("added tokens: long prompt split as before")
    return 0


MIXED = ("abcXYZ019 '\t\n\r.,!?-_()é中日한ー\u0301\u0915\u093f½²Ⅻ٣०😀\u00a0"
         "\u2028\u3000\u200b’—€\U0001d400\u05d0ǅĳ")


def hostile_prompts(n, rng):
    """(name, text bytes) of prompts of about n bytes."""
    n -= n % 8
    mixed_nospace = [c for c in MIXED if not c.isspace()]

    def mixed(chars):
        text = "".join(rng.choice(chars) for _ in range(n // 2)).encode()
        return text[:n].decode(errors="ignore").encode()

    yield "one letter", b"a" * n
    yield "spaces", b" " * n
    yield "newlines", b"\n" * n
    # No 'a' (merged) nor space.
    yield "no spaces", "".join(rng.choice("bcdefghijklmnopqrstuvwxyz.,!?'")
                               for _ in range(n)).encode()
    yield "digits", "".join(rng.choice("0123456789")
                            for _ in range(n)).encode()
    yield "mixed scripts", mixed(MIXED)
    yield "mixed, no spaces", mixed(mixed_nospace)
    yield "punctuation and spaces", b"! " * (n // 2)
    yield "space runs", b"".join(b" " * rng.randint(1, 3000) + b"x"
                                 for _ in range(n // 1500))[:n]
    yield "contractions", b"'s'S'll" * (n // 7)


def check_hostile(args):
    doc = load(args.json)
    vocab = doc["model"]["vocab"]
    want_merges = ["a a", "aa aa", "aaaa aaaa", "Ġ Ġ", "ĠĠ ĠĠ"]
    if doc["model"]["merges"] != want_merges:
        sys.exit("the fixture's merges must be %s" % want_merges)
    pattern = None
    if args.regex:
        import regex
        src = args.regex
        if src.startswith("@"):
            with open(src[1:], encoding="utf-8") as f:
                src = f.read().rstrip("\n")
        pattern = regex.compile(src)
    rng = random.Random(args.seed)
    prompts = list(hostile_prompts(args.bytes, rng))
    results = run_tool(args.tool, args.json, args.workdir, "hostile",
                       [t for _, t in prompts])
    failures = 0
    for (name, text), r in zip(prompts, results):
        ids = r["ids"]
        problems = []
        if r["decoded"].encode() != text:
            problems.append("does not decode to the prompt")
        if "".join(r["pre_tokens"]).encode() != text:
            problems.append("pre-tokens do not join to the prompt")
        if name == "one letter" and ids != [vocab["aaaaaaaa"]] * (
                len(text) // 8):
            problems.append("'a' * %d is not %d x 'aaaaaaaa'" %
                            (len(text), len(text) // 8))
        if name == "spaces" and ids != [vocab["ĠĠĠĠ"]] * (len(text) // 4):
            problems.append("' ' * %d is not %d x 'ĠĠĠĠ'" %
                            (len(text), len(text) // 4))
        if name in ("no spaces", "digits", "newlines",
                    "punctuation and spaces"):
            # No merge applies to these bytes: one id per byte.
            if ids != list(text):
                problems.append("ids are not the bytes")
        if pattern is not None:
            want = pattern.findall(text.decode())
            if r["pre_tokens"] != want:
                k = next((k for k, (a, b) in enumerate(
                    zip(r["pre_tokens"], want)) if a != b), None)
                problems.append("pre-tokens differ from regex's (%d vs %d, "
                                "first at %s)" % (len(r["pre_tokens"]),
                                                  len(want), k))
        print("%-24s %8d bytes %8d pre-tokens %8d ids %s" %
              (name, len(text), len(r["pre_tokens"]), len(ids),
               "; ".join(problems) or "ok"))
        failures += bool(problems)
    print("hostile: %d/%d prompts ok" % (len(prompts) - failures,
                                         len(prompts)))
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    at = sub.add_parser("add-tokens")
    at.add_argument("json")
    at.add_argument("--count", type=int, required=True)
    at.add_argument("--seed", type=int, default=1)
    at.add_argument("--alphabet", default="ab<|>é")
    at.add_argument("--min-len", type=int, default=1)
    at.add_argument("--max-len", type=int, default=6)
    for name in ("check-added-random", "check-added-long", "check-hostile"):
        p = sub.add_parser(name)
        p.add_argument("tool")
        p.add_argument("json")
        p.add_argument("workdir")
        p.add_argument("--seed", type=int, default=5)
        p.add_argument("--count", type=int, default=2000)
        p.add_argument("--bytes", type=int, default=1 << 20)
        p.add_argument("--regex")
    args = ap.parse_args()
    if args.cmd == "add-tokens":
        return add_tokens(args)
    os.makedirs(args.workdir, exist_ok=True)
    return {"check-added-random": check_added_random,
            "check-added-long": check_added_long,
            "check-hostile": check_hostile}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
