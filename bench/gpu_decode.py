#!/usr/bin/env python3
"""Whole models compiled by `qrealign-compile --gpu`, run on a GPU machine
that has no LLVM (qrealign-run links libMLIR/libLLVM; the lent GPU machines
have neither, and accept 64 MiB of uploads).

Each model object is linked here into a shared library of its own, which
this script loads with ctypes beside libqrealign_cuda_runtime.so (our
runtime, which dlopens the CUDA driver) and calls through its packed C
interface, as qrealign::CompiledModel does: parameters uploaded once, the
three inputs of a call uploaded per call, the KV cache left on the device,
the last row of logits copied back, results freed with mgpuMemFree.

  prepare OUT   (build machine) the tiny Llama (test/lit-utils) float, W8A8,
                W4A16 and W4A8 compiled for the GPU, with its weights and
                the CPU object's greedy tokens and last-token logits as the
                reference; Llama-2-7B-shaped models (python/qrealign/
                irgen.py, --layers of them, no weights) float and W4A16
                g128; the runtime. OUT is what to carry (about 15 MB).
  check OUT     (GPU machine) the tiny models: last-token logits within
                1e-3 of the CPU object's and the same greedy tokens.
  bench OUT     (GPU machine) one decode step of the 7B-shaped models at a
                context of --context tokens (weights synthetic: only the
                bytes moved matter), median over --steps steps of the wall
                time of a step (inputs up, @decode, logits down, results
                freed) and of its kernels' time (CUDA events), its launches,
                against the step's memory floor (weights read once, one row
                of the embedding, the KV cache read once, over the device-
                to-device copy bandwidth measured here) and, where PyTorch
                sees the GPU, against the same step in PyTorch FP16.

With `prepare --emulate`, the objects are the GPU mapping run on the host
(qrealign-compile --emulate-gpu) and `check` runs where no GPU is, against
test/GPU/FakeDriver's libcuda.so.1 (LD_LIBRARY_PATH): the harness's own
test (test/bench/gpu-decode.test).

Exits 77 (skipped) from check and bench when the runtime finds no GPU.
"""
import argparse
import ctypes
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
DTYPE_BYTES = {"f32": 4, "f16": 2, "bf16": 2, "i8": 1, "ui8": 1, "i32": 4,
               "i64": 8, "i1": 1}
TINY_SCHEMES = {
    "float": "",
    "w8a8": "w-bits=8 a-bits=8 skip=lm_head",
    "w4a16": "w-bits=4 group-size=8 skip=lm_head",
    "w4a8": "w-bits=4 a-bits=8 group-size=8 skip=lm_head",
}
TINY_PROMPTS = ["3 14 15", "9 2 7 7 1"]
TINY_TOKENS = 12


def run(cmd, **kw):
    print("+ " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True, **kw)


def link_shared(obj, so, emulate):
    """The object as a shared library; its mgpu* calls resolve to the
    runtime loaded before it (RTLD_GLOBAL)."""
    cmd = [os.environ.get("CXX", "c++"), "-shared", "-o", so, obj,
           "-Wl,-Bsymbolic"]
    if emulate:
        cmd.append("-lm")
    run(cmd)


def prepare(a):
    out = os.path.abspath(a.out)
    os.makedirs(out, exist_ok=True)
    bin_dir = os.path.abspath(a.bin)
    tool = lambda name: os.path.join(bin_dir, name)
    target = ["--emulate-gpu"] if a.emulate else [
        "--gpu", a.chip, "--cuda-toolkit", a.cuda]
    shutil.copy(os.path.join(a.lib, "libqrealign_cuda_runtime.so"), out)
    models = {"tiny": [], "decode": []}

    # The tiny Llama: real weights, the CPU object as the reference.
    tiny = os.path.join(out, "tiny")
    os.makedirs(tiny, exist_ok=True)
    run([sys.executable, os.path.join(SRC, "test", "lit-utils",
                                      "make-checkpoint.py"),
         "hf", os.path.join(tiny, "llama"), "--arch", "llama",
         "--dtype", "BF16"])
    run([tool("qrealign-import"), os.path.join(tiny, "llama"),
         "-o", os.path.join(tiny, "float.mlir")])
    for name, opts in TINY_SCHEMES.items():
        model = os.path.join(tiny, name + ".mlir")
        if opts:
            run([tool("qrealign-opt"), os.path.join(tiny, "float.mlir"),
                 "--qrealign-assign-quant=" + opts,
                 "--qrealign-quantize-weights=file=" +
                 os.path.join(tiny, name + ".safetensors"), "-o", model])
        d = os.path.join(tiny, name)
        os.makedirs(d, exist_ok=True)
        run([tool("qrealign-compile"), model, "-o",
             os.path.join(d, "gpu.o")] + target, stderr=subprocess.DEVNULL)
        link_shared(os.path.join(d, "gpu.o"), os.path.join(d, "model.so"),
                    a.emulate)
        os.rename(os.path.join(d, "gpu.manifest.json"),
                  os.path.join(d, "manifest.json"))
        os.remove(os.path.join(d, "gpu.o"))
        run([tool("qrealign-compile"), model, "-o",
             os.path.join(d, "cpu.o")], stderr=subprocess.DEVNULL)
        args = [tool("qrealign-run"), model, "--prompt-ids", "--ignore-eos",
                "--max-new-tokens", str(TINY_TOKENS), "--format", "jsonl",
                "--backend", "compiled", "--object",
                os.path.join(d, "cpu.o"), "--logits",
                os.path.join(d, "reference.npy"),
                "-o", os.path.join(d, "reference.jsonl")]
        for p in TINY_PROMPTS:
            args += ["--prompt", p]
        run(args, stderr=subprocess.DEVNULL)
        for f in ("cpu.o", "cpu.manifest.json"):
            os.remove(os.path.join(d, f))
        models["tiny"].append(name)

    # Layers of a real model's shapes (--preset), no weights.
    if a.layers > 0:
        for name, packed in (("float", []),
                             ("w4a16", ["--packed", "4:%d" % a.group])):
            d = os.path.join(out, "decode-" + name)
            os.makedirs(d, exist_ok=True)
            model = os.path.join(d, "model.mlir")
            run([sys.executable, os.path.join(SRC, "python", "qrealign",
                                              "irgen.py"),
                 "--preset", a.preset, "--layers", str(a.layers),
                 "--weights", "external", "-o", model] + packed)
            run([tool("qrealign-compile"), model, "-o",
                 os.path.join(d, "gpu.o")] + target,
                stderr=subprocess.DEVNULL)
            link_shared(os.path.join(d, "gpu.o"),
                        os.path.join(d, "model.so"), a.emulate)
            os.rename(os.path.join(d, "gpu.manifest.json"),
                      os.path.join(d, "manifest.json"))
            os.remove(os.path.join(d, "gpu.o"))
            models["decode"].append("decode-" + name)
    with open(os.path.join(out, "models.json"), "w") as f:
        json.dump(dict(models, layers=a.layers, preset=a.preset,
                       emulated=a.emulate), f)
    print("prepared %s: %s" % (out, json.dumps(models)))


class Runtime:
    """libqrealign_cuda_runtime.so through ctypes."""

    def __init__(self, path):
        c = ctypes
        self.lib = lib = c.CDLL(path, mode=c.RTLD_GLOBAL)
        sig = {
            "qrealignGpuAvailable": (c.c_int, []),
            "qrealignGpuStatus": (c.c_char_p, []),
            "qrealignGpuErrors": (c.c_int64, [c.POINTER(c.c_char_p)]),
            "qrealignGpuProfile": (None, [c.c_int]),
            "qrealignGpuProfiledMilliseconds": (c.c_double,
                                                [c.POINTER(c.c_int64)]),
            "mgpuMemAlloc": (c.c_void_p, [c.c_uint64, c.c_void_p, c.c_bool]),
            "mgpuMemFree": (None, [c.c_void_p, c.c_void_p]),
            "mgpuMemcpy": (None, [c.c_void_p, c.c_void_p, c.c_size_t,
                                  c.c_void_p]),
            "mgpuStreamCreate": (c.c_void_p, []),
            "mgpuStreamSynchronize": (None, [c.c_void_p]),
        }
        for name, (res, args) in sig.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = res, args
            setattr(self, name, fn)
        self.stream = None

    def available(self):
        return self.qrealignGpuAvailable() != 0

    def errors(self):
        last = ctypes.c_char_p()
        n = self.qrealignGpuErrors(ctypes.byref(last))
        return n, (last.value or b"").decode()

    def check(self, before, what):
        n, last = self.errors()
        if n != before:
            raise RuntimeError("%s: %d CUDA driver call(s) failed, the last: "
                               "%s" % (what, n - before, last))

    def sync(self):
        if self.stream is None:
            self.stream = self.mgpuStreamCreate()
        self.mgpuStreamSynchronize(self.stream)

    def upload(self, data):
        """A device buffer holding the bytes of `data` (bytes-like)."""
        before = self.errors()[0]
        n = len(data)
        ptr = self.mgpuMemAlloc(n, None, False)
        if self.stream is None:
            self.stream = self.mgpuStreamCreate()
        buf = (ctypes.c_char * max(n, 1)).from_buffer_copy(
            bytes(data) if n else b"\0")
        self.mgpuMemcpy(ptr, ctypes.addressof(buf), n, self.stream)
        self.sync()
        self.check(before, "uploading %d bytes" % n)
        return ptr

    def download(self, ptr, n):
        before = self.errors()[0]
        buf = (ctypes.c_char * n)()
        if self.stream is None:
            self.stream = self.mgpuStreamCreate()
        self.mgpuMemcpy(ctypes.addressof(buf), ptr, n, self.stream)
        self.sync()
        self.check(before, "downloading %d bytes" % n)
        return bytes(buf)

    def free(self, ptr):
        self.mgpuMemFree(ptr, None)


def descriptor(ptr, sizes):
    """A memref descriptor: {allocated, aligned, offset, sizes, strides}."""
    strides, s = [], 1
    for d in reversed(sizes):
        strides.insert(0, s)
        s *= d
    words = [ptr or 0, ptr or 0, 0] + list(sizes) + strides
    return (ctypes.c_int64 * len(words))(*words)


class Model:
    """A model shared library and its manifest: @prefill and @decode."""

    def __init__(self, rt, directory, weights, emulated=False):
        # An emulated object's results are host memory (malloc'ed by the
        # code): read and freed on the host.
        self.rt, self.dir, self.emulated = rt, directory, emulated
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = [ctypes.c_void_p]
        self.libc.malloc.argtypes = [ctypes.c_size_t]
        self.libc.malloc.restype = ctypes.c_void_p
        with open(os.path.join(directory, "manifest.json")) as f:
            self.manifest = json.load(f)
        self.lib = ctypes.CDLL(os.path.join(directory, "model.so"))
        before = rt.errors()[0]
        self.lib.qrealign_init()
        rt.check(before, "loading the kernels (qrealign_init)")
        self.entries = {}
        for name in ("prefill", "decode"):
            fn = getattr(self.lib, "_mlir__mlir_ciface_" + name)
            fn.restype, fn.argtypes = None, [ctypes.c_void_p]
            self.entries[name] = fn
        self.placed = {}
        self.param_bytes = 0
        for name in ("prefill", "decode"):
            for p in self.manifest["functions"][name]["params"]:
                if p["symbol"] not in self.placed:
                    data = weights(p)
                    self.param_bytes += len(data)
                    self.placed[p["symbol"]] = (rt.upload(data), p["shape"])
        fn = self.manifest["functions"]["prefill"]
        self.vocab = fn["results"][0]["shape"][2]
        self.num_results = len(fn["results"])

    def close(self):
        for ptr, _ in self.placed.values():
            self.rt.free(ptr)
        self.placed = {}
        self.lib.qrealign_fini()

    def call(self, name, inputs, cache):
        """inputs: (bytes, sizes) uploaded for the call; cache: descriptors
        of earlier results. Returns the results' descriptor words."""
        rt = self.rt
        fn = self.manifest["functions"][name]
        placed = [rt.upload(data) for data, _ in inputs]
        descs = [descriptor(ptr, sizes)
                 for ptr, (_, sizes) in zip(placed, inputs)]
        descs += cache
        descs += [descriptor(*self.placed[p["symbol"]])
                  for p in fn["params"]]
        results = (ctypes.c_int64 * (9 * self.num_results))()
        pointers = (ctypes.c_void_p * (1 + len(descs)))(
            ctypes.addressof(results), *[ctypes.addressof(d) for d in descs])
        packed = (ctypes.c_void_p * len(pointers))(
            *[ctypes.addressof(pointers) + 8 * i
              for i in range(len(pointers))])
        before = rt.errors()[0]
        self.entries[name](packed)
        for ptr in placed:
            rt.free(ptr)
        try:
            rt.check(before, "@" + name)
        except RuntimeError:
            self.release(results)
            raise
        return results

    def result(self, results, i):
        """Result i as a descriptor of its own (the next call's cache)."""
        return (ctypes.c_int64 * 9)(*results[9 * i:9 * i + 9])

    # Buffers in the code's memory: the device's, or the host's for an
    # emulated object (whose results are malloc'ed).
    def alloc(self, n):
        if self.emulated:
            return self.libc.malloc(max(n, 1))
        before = self.rt.errors()[0]
        ptr = self.rt.mgpuMemAlloc(n, None, False)
        self.rt.check(before, "allocating %d bytes" % n)
        return ptr

    def copy(self, dst, src, n):
        """Within the code's memory, or from the host to it."""
        if self.emulated:
            ctypes.memmove(dst, src, n)
            return
        before = self.rt.errors()[0]
        if self.rt.stream is None:
            self.rt.stream = self.rt.mgpuStreamCreate()
        self.rt.mgpuMemcpy(dst, src, n, self.rt.stream)
        self.rt.sync()
        self.rt.check(before, "copying %d bytes" % n)

    def free(self, ptr):
        if ptr:
            if self.emulated:
                self.libc.free(ptr)
            else:
                self.rt.free(ptr)

    def release(self, results, keep=()):
        """Frees the results, except buffers in `keep` (caches updated in
        place are the caller's)."""
        for i in range(self.num_results):
            if results[9 * i] not in keep:
                self.free(results[9 * i])

    def grow_caches(self, results, capacity):
        """@prefill's caches copied into buffers of `capacity` positions,
        which @decode updates in place."""
        caches = []
        for i in range(1, self.num_results):
            aligned, offset = results[9 * i + 1], results[9 * i + 2]
            length, width = results[9 * i + 4], results[9 * i + 5]
            ptr = self.alloc(capacity * width * 4)
            self.copy(ptr, aligned + 4 * offset, length * width * 4)
            caches.append(descriptor(ptr, [1, capacity, width]))
        return caches

    def update_caches(self, caches, results):
        """After @decode: a cache that came back as a new buffer (not
        updated in place) replaces the old one."""
        for i, c in enumerate(caches):
            new = self.result(results, i + 1)
            if new[0] != c[0]:
                self.free(c[0])
                caches[i] = new

    def last_row(self, results):
        aligned, offset = results[1], results[2]
        seq, s1, s2 = results[4], results[7], results[8]
        if s2 != 1:
            raise RuntimeError("logits with a non-unit inner stride")
        start = aligned + 4 * (offset + (seq - 1) * s1)
        if self.emulated:
            data = ctypes.string_at(start, 4 * self.vocab)
        else:
            data = self.rt.download(start, 4 * self.vocab)
        return list(memoryview(data).cast("f"))


def ids_input(ids):
    import struct
    return (struct.pack("<%dq" % len(ids), *ids), [1, len(ids)])


def mask_input(n):
    return (b"\1" * n, [1, n])


def read_safetensors(path):
    """name -> (dtype, shape, bytes) of a safetensors file, or of a Hugging
    Face directory (model.safetensors, or the shards its index names)."""
    import struct
    if os.path.isdir(path):
        index = os.path.join(path, "model.safetensors.index.json")
        if not os.path.exists(index):
            return read_safetensors(os.path.join(path, "model.safetensors"))
        out = {}
        shards = set(json.load(open(index))["weight_map"].values())
        for shard in sorted(shards):
            out.update(read_safetensors(os.path.join(path, shard)))
        return out
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        lo, hi = e["data_offsets"]
        out[name] = (e["dtype"], e["shape"], blob[8 + n + lo:8 + n + hi])
    return out


def open_prepared(a):
    """The runtime and what `prepare` wrote, or None (skipped) without a
    GPU."""
    rt = Runtime(a.runtime or os.path.join(a.out, "libqrealign_cuda_runtime.so"))
    if not rt.available():
        print("gpu_decode: skipped: " + rt.qrealignGpuStatus().decode())
        return None, None
    with open(os.path.join(a.out, "models.json")) as f:
        return rt, json.load(f)


def check(a):
    rt, models = open_prepared(a)
    if not rt:
        return 77
    import numpy as np
    failed = 0
    rows = []
    for name in models["tiny"]:
        d = os.path.join(a.out, "tiny", name)
        manifest = json.load(open(os.path.join(d, "manifest.json")))
        files = {}
        for scope, path in manifest["scopes"].items():
            files[scope] = read_safetensors(os.path.join(d, path))

        def weights(p):
            return files[p["scope"]][p["tensor"]][2]

        model = Model(rt, d, weights, models["emulated"])
        ref_logits = np.load(os.path.join(d, "reference.npy"))
        ref = [json.loads(l)["ids"]
               for l in open(os.path.join(d, "reference.jsonl"))]
        worst, same = 0.0, True
        for i, prompt in enumerate(TINY_PROMPTS):
            ids = [int(t) for t in prompt.split()]
            out = model.call("prefill", [ids_input(ids),
                                         ids_input(list(range(len(ids)))),
                                         mask_input(len(ids))], [])
            row = np.array(model.last_row(out), dtype=np.float32)
            scale = max(float(np.max(np.abs(ref_logits[i]))), 1e-30)
            worst = max(worst, float(np.max(np.abs(row - ref_logits[i])))
                        / scale)
            tokens, length = [], len(ids)
            nxt = int(np.argmax(row))
            caches = model.grow_caches(out, len(ids) + TINY_TOKENS)
            model.release(out)
            while True:
                tokens.append(nxt)
                if len(tokens) >= TINY_TOKENS:
                    break
                out = model.call("decode", [ids_input([nxt]),
                                            ids_input([length]),
                                            mask_input(length + 1)], caches)
                length += 1
                model.update_caches(caches, out)
                nxt = int(np.argmax(model.last_row(out)))
                model.release(out, keep=[c[0] for c in caches])
            for c in caches:
                model.free(c[0])
            same = same and tokens == ref[i]
        model.close()
        ok = worst <= 1e-3 and same
        failed += not ok
        rows.append((name, worst, same, ok))
    print("| model | largest relative logit difference | same greedy tokens "
          "(%d) | |" % TINY_TOKENS)
    print("|---|---|---|---|")
    for name, worst, same, ok in rows:
        print("| tiny Llama %s | %.2g | %s | %s |" %
              (name, worst, "yes" if same else "NO",
               "ok" if ok else "FAILED"))
    n, last = rt.errors()
    if n:
        print("gpu_decode: %d CUDA driver call(s) failed, the last: %s" %
              (n, last))
        return 1
    return 1 if failed else 0


def synthetic(p):
    """Bytes for a parameter of the benchmark (values that keep the
    arithmetic finite: small normals, positive scales, any integer)."""
    import numpy as np
    n = 1
    for d in p["shape"]:
        n *= d
    rng = np.random.default_rng(len(p["symbol"]))
    block = min(n, 1 << 20)
    if p["dtype"] in ("f32", "f16", "bf16"):
        v = rng.standard_normal(block, dtype=np.float32) * 0.02
        if p["symbol"].endswith("_scale"):
            v = np.abs(v) * 0.05 + 1e-3
        if p["dtype"] == "f32":
            b = v
        elif p["dtype"] == "f16":
            b = v.astype(np.float16)
        else:
            b = (v.view(np.uint32) >> 16).astype(np.uint16)
    else:
        b = rng.integers(0, 256, block * DTYPE_BYTES[p["dtype"]],
                         dtype=np.uint8)
    raw = b.tobytes()
    total = n * DTYPE_BYTES[p["dtype"]]
    reps = -(-total // len(raw))
    return (raw * reps)[:total]


def bench(a):
    rt, models = open_prepared(a)
    if not rt:
        return 77
    # The device-to-device copy bandwidth: reads and writes 2 x bytes.
    size = 1 << 30
    src, dst = rt.mgpuMemAlloc(size, None, False), rt.mgpuMemAlloc(
        size, None, False)
    rt.sync()
    times = []
    for _ in range(7):
        t0 = time.perf_counter()
        rt.mgpuMemcpy(dst, src, size, rt.stream)
        rt.sync()
        times.append(time.perf_counter() - t0)
    rt.free(src)
    rt.free(dst)
    bandwidth = 2 * size / statistics.median(times[2:])
    L = a.context
    table = []
    for name in models["decode"]:
        d = os.path.join(a.out, name)
        model = Model(rt, d, synthetic, models["emulated"])
        fn = model.manifest["functions"]["decode"]
        caches = fn["arguments"][3:]
        # Caches holding L positions, with room for the step's new one.
        cache_descs, cache_bytes = [], 0
        for c in caches:
            width = c["shape"][2]
            n = (L + 1) * width * 4
            ptr = model.alloc(n)
            zeros = (ctypes.c_char * n)()
            model.copy(ptr, ctypes.addressof(zeros), n)  # to the device
            cache_descs.append(descriptor(ptr, [1, L + 1, width]))
            cache_bytes += L * width * 4
        embed = [p for p in fn["params"]
                 if p["symbol"].endswith("embed_tokens.weight")]
        weight_bytes = model.param_bytes
        for p in embed:  # the step gathers one row of the table
            full = 1
            for s in p["shape"]:
                full *= s
            weight_bytes -= (full - p["shape"][1]) * DTYPE_BYTES[p["dtype"]]
        floor = (weight_bytes + cache_bytes) / bandwidth

        def step():
            out = model.call("decode", [ids_input([7]), ids_input([L]),
                                        mask_input(L + 1)], cache_descs)
            model.update_caches(cache_descs, out)
            model.last_row(out)
            model.release(out, keep=[c[0] for c in cache_descs])

        for _ in range(a.warmup):
            step()
        walls = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            step()
            walls.append(time.perf_counter() - t0)
        rt.qrealignGpuProfile(1)
        step()
        launches = ctypes.c_int64(0)
        kernel_ms = rt.qrealignGpuProfiledMilliseconds(ctypes.byref(launches))
        rt.qrealignGpuProfile(0)
        for c in cache_descs:
            model.free(c[0])
        model.close()
        wall = statistics.median(walls)
        table.append((name, wall * 1e3, kernel_ms, launches.value,
                      weight_bytes / 1e6, cache_bytes / 1e6, floor * 1e3))
    sys.path.insert(0, os.path.join(SRC, "python", "qrealign"))
    import irgen
    cfg = irgen.PRESETS[models["preset"]]
    torch_ms = torch_fp16_step(cfg, models["layers"], L, a.steps, a.warmup)
    lines = ["| step (%d layers of %s, context %d) | wall ms | "
             "kernels ms | launches | weights MB | KV MB | floor ms | "
             "wall / floor | wall / PyTorch FP16 |" %
             (models["layers"], models["preset"], L),
             "|---|---|---|---|---|---|---|---|---|"]
    for name, wall, kern, launches, wmb, kvmb, floor in table:
        ratio = ("%.2f" % (wall / torch_ms)) if torch_ms else "n/a"
        lines.append("| qrealign %s | %.3f | %.3f | %d | %.1f | %.1f | %.3f "
                     "| %.1f | %s |" % (name[len("decode-"):], wall, kern,
                                        launches, wmb, kvmb, floor,
                                        wall / floor, ratio))
    if torch_ms:
        lines.append("| PyTorch FP16 (same shapes) | %.3f | | | | | | | 1 |"
                     % torch_ms)
    lines.append("")
    lines.append("Copy bandwidth measured: %.0f GB/s (device to device)."
                 % (bandwidth / 1e9))
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text + "\n")
    n, last = rt.errors()
    if n:
        print("gpu_decode: %d CUDA driver call(s) failed, the last: %s" %
              (n, last))
        return 1
    return 0


def torch_fp16_step(cfg, layers, L, steps, warmup):
    """The same decode step in PyTorch FP16 (the shapes of irgen preset
    `cfg`), median ms; None where PyTorch does not see a GPU."""
    try:
        import torch
        if not torch.cuda.is_available():
            return None
    except ImportError:
        return None
    H, I, V = cfg["hidden"], cfg["intermediate"], cfg["vocab"]
    NH, KV, HD = cfg["heads"], cfg["kv_heads"], cfg["head_dim"]
    dev, dt = "cuda", torch.float16
    g = torch.Generator(device=dev).manual_seed(0)
    W = lambda *s: torch.randn(*s, device=dev, dtype=dt, generator=g) * 0.02
    blocks = [dict(q=W(NH * HD, H), k=W(KV * HD, H), v=W(KV * HD, H),
                   o=W(H, NH * HD), g=W(I, H), u=W(I, H), d=W(H, I), n1=W(H),
                   n2=W(H), kc=W(1, KV, L + 1, HD), vc=W(1, KV, L + 1, HD))
              for _ in range(layers)]
    embed, head, norm = W(V, H), W(V, H), W(H)
    F = torch.nn.functional

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def step(token):
        x = embed[token].view(1, 1, H)
        for b in blocks:
            h = rms(x, b["n1"])
            q = F.linear(h, b["q"]).view(1, 1, NH, HD).transpose(1, 2)
            b["kc"][:, :, L] = F.linear(h, b["k"]).view(1, KV, HD)
            b["vc"][:, :, L] = F.linear(h, b["v"]).view(1, KV, HD)
            k = b["kc"].repeat_interleave(NH // KV, dim=1)
            v = b["vc"].repeat_interleave(NH // KV, dim=1)
            a = F.scaled_dot_product_attention(q, k, v)
            x = x + F.linear(a.transpose(1, 2).reshape(1, 1, NH * HD), b["o"])
            h = rms(x, b["n2"])
            x = x + F.linear(F.silu(F.linear(h, b["g"])) * F.linear(h, b["u"]),
                             b["d"])
        return F.linear(rms(x, norm), head)[0, -1].float().cpu()

    with torch.no_grad():
        for _ in range(warmup):
            step(7)
        times = []
        for _ in range(steps):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            step(7)
            times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("out")
    p.add_argument("--bin", default=os.path.join(SRC, "build", "bin"))
    p.add_argument("--lib", default=os.path.join(SRC, "build", "lib"))
    p.add_argument("--chip", default="sm_90")
    p.add_argument("--cuda", default="/usr/local/cuda")
    p.add_argument("--preset", default="llama-2-7b",
                   help="the shapes of the decode models "
                        "(python/qrealign/irgen.py --preset)")
    p.add_argument("--group", type=int, default=128,
                   help="the W4A16 decode model's group size")
    p.add_argument("--layers", type=int, default=2,
                   help="layers of the decode models (0: none)")
    p.add_argument("--emulate", action="store_true",
                   help="compile with --emulate-gpu (testing the harness)")
    for name in ("check", "bench"):
        q = sub.add_parser(name)
        q.add_argument("out")
        q.add_argument("--runtime",
                       help="libqrealign_cuda_runtime.so (default: OUT's)")
        if name == "bench":
            q.add_argument("--context", type=int, default=512)
            q.add_argument("--steps", type=int, default=20)
            q.add_argument("--warmup", type=int, default=3)
            q.add_argument("--markdown")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a)
        return 0
    return check(a) if a.cmd == "check" else bench(a)


if __name__ == "__main__":
    sys.exit(main())
