#!/usr/bin/python3
"""Writes a small byte-level BPE tokenizer.json for tests.

The vocabulary holds GPT-2's 256 byte-level pieces with id = byte value, then
the result of each merge in rank order (ids 256, 257, ...), then --extra
pieces, then --added special tokens. Every expected id in the tests follows
from these rules by hand.

  make-bpe-tokenizer.py OUT.json --pattern llama3|qwen2|gpt2
      [--merge "a b"]... [--extra PIECE]... [--added TOKEN]...
      [--ignore-merges] [--merges-as-pairs] [--set PATH=JSON]... [--del PATH]...

--set and --del edit the document last (PATH is dotted: model.type; list
indices are numbers: added_tokens.0.id), to make malformed files.
"""
import argparse
import json

PATTERNS = {
    "gpt2": None,  # ByteLevel(use_regex=True) alone
    "llama3": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    "qwen2": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
}
GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"


def bytes_to_unicode():
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) +
          list(range(0xAE, 0x100)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--pattern", choices=sorted(PATTERNS), default="llama3")
    ap.add_argument("--merge", action="append", default=[])
    ap.add_argument("--extra", action="append", default=[])
    ap.add_argument("--added", action="append", default=[])
    ap.add_argument("--ignore-merges", action="store_true")
    ap.add_argument("--merges-as-pairs", action="store_true")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--del", dest="delete", action="append", default=[])
    ap.add_argument("--print-pattern", action="store_true",
                    help="print the split regex and exit")
    args = ap.parse_args()
    if args.print_pattern:
        print(PATTERNS[args.pattern] or GPT2_PATTERN)
        return
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}
    merges = []
    for m in args.merge:
        a, b = m.split(" ")
        vocab.setdefault(a + b, len(vocab))
        merges.append([a, b] if args.merges_as_pairs else m)
    for p in args.extra:
        vocab.setdefault(p, len(vocab))
    added = []
    for t in args.added:
        added.append({"id": len(vocab) + len(added), "content": t,
                      "single_word": False, "lstrip": False, "rstrip": False,
                      "normalized": False, "special": True})
    byte_level = {"type": "ByteLevel", "add_prefix_space": False,
                  "trim_offsets": True,
                  "use_regex": PATTERNS[args.pattern] is None}
    if PATTERNS[args.pattern] is None:
        pre = byte_level
    else:
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": PATTERNS[args.pattern]},
             "behavior": "Isolated", "invert": False}, byte_level]}
    doc = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "NFC"} if args.pattern == "qwen2" else None,
        "pre_tokenizer": pre,
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True,
                    "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False,
                  "ignore_merges": args.ignore_merges,
                  "vocab": vocab, "merges": merges},
    }
    def walk(path):
        *parents, last = path.split(".")
        node = doc
        for key in parents:
            node = node[int(key) if isinstance(node, list) else key]
        return node, (int(last) if isinstance(node, list) else last)

    for edit in args.set:
        path, value = edit.split("=", 1)
        node, key = walk(path)
        node[key] = json.loads(value)
    for path in args.delete:
        node, key = walk(path)
        del node[key]
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
