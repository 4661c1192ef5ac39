#!/usr/bin/python3
"""Oracle test of the byte-level BPE pre-tokenizer: qrealign-tokenize's
pre_tokens must equal Python `regex` findall of the pattern that
tokenizer.json names (Hugging Face tokenizers runs the same pattern with
Oniguruma), for built-in tricky strings, seeded random strings over a mixed
Unicode alphabet, and, when given, the lines of real prompt files.

  check-pretokenizer.py QREALIGN_TOKENIZE MAKE_BPE WORKDIR [DATA_FILE...]

Exits 1 listing the first mismatches.
"""
import json
import os
import random
import subprocess
import sys
import unicodedata

import regex

TRICKY = [
    "Hello, world! I'm fine; you're not? We'LL see... they'VE gone 'd 's 'x",
    "  leading and trailing spaces   ",
    "tabs\tand\t\ttabs \t mixed\n\nnewlines\r\nCRLF\r\n\r\n  \n x",
    "numbers 1 12 123 1234 12345 123456 3.14159 -42 1,000,000 0x1F",
    "ünïcödé café naïve Straße ÆØÅ ĳ ǅ Ⅻ ½ ² ³ ① ٣٤ १२३ ０１２",
    "中文字符和標點。日本語のテキスト、カタカナ！한국어 텍스트?",
    "emoji 😀👍🏽 🇫🇷 ∑∫√ ≤≥ → ← « » ‘quotes’ “double” — – …",
    "नमस्ते दुनिया العربية עברית ไทย",
    "code: if (x != y) { return a->b[i] + *p; } // comment\n\tfoo_bar = 1;",
    "a\u00a0b\u2028c\u2029d\u3000e\u200bf\u202fg\u205fh\u1680i\u0085j",
    "!!!???...\n\n\n",
    " \n \n ",
    "'",
    "'s",
    " 's",
    "x'",
    "\n",
    " ",
    "",
]

ALPHABET = (list("abcXYZ019 '\t\n\r.,!?-_()") +
            ["é", "ß", "中", "日", "한", "ー", "\u0301", "\u0915", "\u093f",
             "½", "²", "Ⅻ", "٣", "०", "😀", "\u00a0", "\u2028", "\u3000",
             "\u200b", "’", "—", "€", "\U0001d400", "\u05d0", "ǅ", "ĳ"])


def random_strings(count, seed=1234):
    rng = random.Random(seed)
    for _ in range(count):
        n = rng.randint(1, 40)
        yield "".join(rng.choice(ALPHABET) for _ in range(n))


def escape(text):
    return (text.replace("\\", "\\\\").replace("\n", "\\n")
            .replace("\r", "\\r").replace("\t", "\\t"))


def main():
    tool, make_bpe, workdir = sys.argv[1:4]
    texts = list(TRICKY) + list(random_strings(2000))
    for path in sys.argv[4:]:
        with open(path, encoding="utf-8") as f:
            texts += [line.rstrip("\n") for line in f][:3000]
    # tokenizer.json's NFC normalizer (Qwen2) assumes composed text.
    texts = [unicodedata.normalize("NFC", t) for t in texts if t]
    os.makedirs(workdir, exist_ok=True)
    prompts = os.path.join(workdir, "prompts.txt")
    with open(prompts, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(escape(t) + "\n")
    failures = 0
    for name in ("llama3", "qwen2", "gpt2"):
        tok = os.path.join(workdir, name + ".json")
        subprocess.run([sys.executable, make_bpe, tok, "--pattern", name],
                       check=True)
        pattern = subprocess.run(
            [sys.executable, make_bpe, tok, "--pattern", name,
             "--print-pattern"], check=True, capture_output=True,
            text=True).stdout.rstrip("\n")
        out = subprocess.run([tool, tok, "--prompts-file", prompts],
                             check=True, capture_output=True).stdout
        lines = out.decode("utf-8").split("\n")[:-1]
        assert len(lines) == len(texts), (len(lines), len(texts))
        compiled = regex.compile(pattern)
        mismatches = 0
        for text, line in zip(texts, lines):
            got = json.loads(line)["pre_tokens"]
            want = compiled.findall(text)
            if got != want:
                mismatches += 1
                if mismatches <= 5:
                    print(f"{name}: {text!r}\n  qrealign: {got}\n  regex:    "
                          f"{want}")
        print(f"{name}: {len(texts) - mismatches}/{len(texts)} texts split "
              f"as Python regex splits them")
        failures += mismatches
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
