#!/usr/bin/python3
"""llama2.c tokenizer (tok*.bin) fixtures and oracle for qrealign-tokenize.

The oracle is run.c's encoder as written there (and as qrealign had it before
the merge loop became a priority queue): after a dummy-prefix space and one
piece per UTF-8 code point (byte fallback: id = byte + 3), repeatedly rescan
every adjacent pair and merge the one whose concatenation is the best-scored
piece, the leftmost among equal scores (strict >), never one scored -1e10 or
less. Quadratic, so only for short texts.

  llama2c_tok.py make-vocab OUT.bin [--seed N] [--weird]
  llama2c_tok.py check-random TOOL VOCAB WORKDIR [--count N] [--seed N]
      [--max-len N]
  llama2c_tok.py check-long TOOL VOCAB WORKDIR [--bytes N] [--seed N]

make-vocab writes a small vocabulary over a few letters, 'é', '中', space and
byte-fallback pieces, with many tied scores, scores at and near -1e10, NaN,
infinities, -0.0 and duplicate pieces; --weird adds empty pieces and
byte-fallback entries that are ordinary strings, so merges cross bytes.

check-random encodes seeded random strings (ASCII, multi-byte UTF-8, invalid
and truncated sequences, control bytes, vocabulary pieces glued together)
with the tool and compares every id with the oracle.

check-long encodes one long prompt (default 1 MiB) made of random segments
joined by a separator byte that can merge with nothing (checked on the
vocabulary), so the expected ids are the oracle's ids of each segment,
concatenated. The quadratic loop needs hours for it; the tool must not.

Exits 1 and lists the first mismatches.
"""
import argparse
import json
import os
import random
import struct
import subprocess
import sys

NEG_LIMIT = -1e10  # exactly representable in float32


def read_vocab(path):
    data = open(path, "rb").read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off = 4
    pieces, scores = [], []
    while off < len(data):
        score, length = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off:off + length])
        off += length
        scores.append(score)
    return pieces, scores


def write_vocab(path, pieces, scores):
    max_len = max(1, max(len(p) for p in pieces))
    with open(path, "wb") as f:
        f.write(struct.pack("<i", max_len))
        for p, s in zip(pieces, scores):
            f.write(struct.pack("<fi", s, len(p)))
            f.write(p)


class Oracle:
    """run.c's quadratic encoder."""

    def __init__(self, pieces, scores):
        self.pieces = pieces
        self.scores = scores
        self.ids = {}
        for i, p in enumerate(pieces):
            self.ids.setdefault(p, i)  # the first id of a piece wins
        self.pair_cache = {}

    def pair(self, a, b):
        key = (a, b)
        hit = self.pair_cache.get(key)
        if hit is None:
            i = self.ids.get(self.pieces[a] + self.pieces[b])
            hit = (self.scores[i], i) if i is not None else (None, -1)
            self.pair_cache[key] = hit
        return hit

    def initial(self, text, prefix=True):
        out = []
        if not text:
            return out
        if prefix and b" " in self.ids:
            out.append(self.ids[b" "])
        i, n = 0, len(text)
        while i < n:
            j = i + 1
            while j < n and j - i < 4 and (text[j] & 0xC0) == 0x80:
                j += 1
            cp = text[i:j]
            if cp in self.ids:
                out.append(self.ids[cp])
            else:
                out.extend(b + 3 for b in cp)
            i = j
        return out

    def merge(self, out):
        out = list(out)
        while True:
            best, best_id, best_idx = NEG_LIMIT, -1, 0
            for i in range(len(out) - 1):
                score, merged = self.pair(out[i], out[i + 1])
                if merged >= 0 and score > best:
                    best, best_id, best_idx = score, merged, i
            if best_id < 0:
                return out
            out[best_idx] = best_id
            del out[best_idx + 1]

    def encode(self, text, prefix=True):
        if not text:
            return []
        return self.merge(self.initial(text, prefix))


def make_vocab(seed, weird):
    rng = random.Random(seed)
    pieces = [b"<unk>", b"\n<s>\n", b"\n</s>\n"]
    pieces += [b"<0x%02X>" % b for b in range(256)]
    scores = [0.0] * len(pieces)
    if weird:
        # Byte-fallback entries that are plain strings or empty: a stray
        # byte then merges with its neighbours, and an empty piece merges
        # into anything.
        for b, p in [(0x80, b"a"), (0xBF, b""), (0xFF, b"b "),
                     (0xC3, b"<0xC3>x"), (0x01, b" ")]:
            pieces[b + 3] = p
    chars = [b"a", b"b", b"c", b" ", "é".encode(), "中".encode()]
    # Single characters first (so code points are found), then random
    # concatenations of 2-5 of them.
    extra = list(chars)
    seen = set(extra)
    while len(extra) < 300:
        p = b"".join(rng.choice(chars) for _ in range(rng.randint(2, 5)))
        if p in seen and rng.random() < 0.9:
            continue  # a few duplicates, with their own scores
        seen.add(p)
        extra.append(p)
    # Merges across byte-fallback pieces of 'é' (C3 A9) and of stray bytes.
    extra += [b"<0xC3><0xA9>", b"<0xE4><0xB8>", b"<0x80><0x80>",
              b"<0xE4><0xB8><0xAD>"]
    special = [NEG_LIMIT, NEG_LIMIT, -9.9e9, float("nan"), float("inf"),
               float("-inf"), -0.0, 0.0, -1e30]
    for p in extra:
        pieces.append(p)
        if rng.random() < 0.08:
            scores.append(rng.choice(special))
        else:
            # A handful of values: many ties between different pairs.
            scores.append(float(rng.randint(-4, 3)))
    # Round the scores to float32 as the file stores them.
    scores = [struct.unpack("<f", struct.pack("<f", s))[0] for s in scores]
    return pieces, scores


SNIPPETS = [
    "é".encode(), "中".encode(), "😀".encode(), "ß".encode(), "€".encode(),
    b"\x80", b"\xbf", b"\xc3", b"\xe4\xb8", b"\xf0\x9f\x98", b"\xff", b"\xfe",
    b"\xc0\x80", b"\xed\xa0\x80", b"\x00", b"\x01", b"\t", b"\n", b"\r",
    b"\\", b"\x7f", b"\x80\x80\x80\x80\x80",
]
ASCII = [bytes([c]) for c in b"abcdefghijklmnopqrstuvwxyz ABCXYZ.,!?'\"-019"]


def random_text(rng, oracle, max_len):
    """Bytes mixing vocabulary pieces, ASCII, UTF-8 and invalid bytes."""
    vocab_pieces = [p for p in oracle.pieces[259:] if p and b"\n" not in p]
    n = rng.randint(0, max_len)
    parts = []
    size = 0
    while size < n:
        r = rng.random()
        if r < 0.5 and vocab_pieces:
            p = rng.choice(vocab_pieces)
        elif r < 0.8:
            p = rng.choice(ASCII)
        else:
            p = rng.choice(SNIPPETS)
        parts.append(p)
        size += len(p)
    return b"".join(parts)


def escape(text):
    return (text.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")
            .replace(b"\r", b"\\r").replace(b"\t", b"\\t"))


def run_tool(tool, vocab, workdir, name, texts):
    prompts = os.path.join(workdir, name + ".txt")
    with open(prompts, "wb") as f:
        for t in texts:
            f.write(escape(t) + b"\n")
    out = os.path.join(workdir, name + ".jsonl")
    subprocess.run([tool, vocab, "--prompts-file", prompts, "-o", out],
                   check=True)
    with open(out, encoding="utf-8") as f:
        results = [json.loads(line) for line in f]
    if len(results) != len(texts):
        sys.exit("%d results for %d prompts" % (len(results), len(texts)))
    return [r["ids"] for r in results]


def check_random(args):
    pieces, scores = read_vocab(args.vocab)
    oracle = Oracle(pieces, scores)
    rng = random.Random(args.seed)
    texts = [random_text(rng, oracle, args.max_len) for _ in range(args.count)]
    # Some texts longer than the rest (a few thousand merges each).
    texts += [random_text(rng, oracle, 20 * args.max_len) for _ in range(5)]
    got = run_tool(args.tool, args.vocab, args.workdir, "random", texts)
    bad = [(t, g, oracle.encode(t)) for t, g in zip(texts, got)
           if g != oracle.encode(t)]
    for t, g, want in bad[:5]:
        print("MISMATCH %r\n  tool   %s\n  oracle %s" % (t, g, want))
    print("llama2c: %d/%d texts encode as the quadratic loop encodes them"
          % (len(texts) - len(bad), len(texts)))
    merges = sum(len(oracle.initial(t)) - len(oracle.encode(t))
                 for t in texts)
    print("(%d merges in all)" % merges, file=sys.stderr)
    return 1 if bad else 0


def pick_separator(oracle):
    """A byte that falls back to its byte piece, which no pair merges into:
    no other piece starts or ends with it, and no piece is empty."""
    if any(len(p) == 0 for p in oracle.pieces):
        return None
    for b in (0xFF, 0xFE, 0xF8):
        sep = oracle.pieces[b + 3]
        if bytes([b]) in oracle.ids or oracle.ids.get(sep) != b + 3:
            continue
        if not any(p != sep and (p.startswith(sep) or p.endswith(sep))
                   for p in oracle.pieces):
            return b
    return None


def check_long(args):
    pieces, scores = read_vocab(args.vocab)
    oracle = Oracle(pieces, scores)
    sep = pick_separator(oracle)
    if sep is None:
        sys.exit("no byte of this vocabulary can separate segments")
    rng = random.Random(args.seed)
    # A pool of segments, reused, so that the oracle runs on few of them.
    pool = []
    while len(pool) < 300:
        t = random_text(rng, oracle, 120)
        # No segment may start with a continuation byte (it would join the
        # separator's code point) or hold the separator.
        if t and (t[0] & 0xC0) != 0x80 and sep not in t:
            pool.append(t)
    segs = []
    size = 0
    while size < args.bytes:
        segs.append(rng.randrange(len(pool)))
        size += len(pool[segs[-1]]) + 1
    text = bytes([sep]).join(pool[i] for i in segs)
    memo = {}

    def enc(i):
        if i not in memo:
            memo[i] = oracle.encode(pool[i], prefix=False)
        return memo[i]

    want = oracle.encode(pool[segs[0]], prefix=True)
    for i in segs[1:]:
        want.append(sep + 3)
        want.extend(enc(i))
    (got,) = run_tool(args.tool, args.vocab, args.workdir, "long", [text])
    print("llama2c: %d bytes -> %d ids" % (len(text), len(got)))
    if got != want:
        k = next((k for k, (a, b) in enumerate(zip(got, want)) if a != b),
                 min(len(got), len(want)))
        print("MISMATCH at id %d of %d (oracle: %d ids): tool %s, oracle %s"
              % (k, len(got), len(want), got[k:k + 10], want[k:k + 10]))
        return 1
    print("llama2c: long prompt ids equal the oracle's")
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    mv = sub.add_parser("make-vocab")
    mv.add_argument("out")
    mv.add_argument("--seed", type=int, default=1)
    mv.add_argument("--weird", action="store_true")
    for name in ("check-random", "check-long"):
        p = sub.add_parser(name)
        p.add_argument("tool")
        p.add_argument("vocab")
        p.add_argument("workdir")
        p.add_argument("--seed", type=int, default=7)
        p.add_argument("--count", type=int, default=2000)
        p.add_argument("--max-len", type=int, default=60)
        p.add_argument("--bytes", type=int, default=1 << 20)
    args = ap.parse_args()
    if args.cmd == "make-vocab":
        write_vocab(args.out, *make_vocab(args.seed, args.weird))
        return 0
    os.makedirs(args.workdir, exist_ok=True)
    return check_random(args) if args.cmd == "check-random" else \
        check_long(args)


if __name__ == "__main__":
    sys.exit(main())
