"""Prints the "prompt" of each JSONL line, one per line, escaped as
qrealign-tokenize --prompts-file reads them (\\n, \\r, \\t, \\\\)."""
import json
import sys

for line in open(sys.argv[1]):
    if line.strip():
        p = json.loads(line)["prompt"]
        print(p.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
              .replace("\t", "\\t"))
