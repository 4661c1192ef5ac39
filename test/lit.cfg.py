# -*- Python -*-
# lit configuration of the qrealign test suite.

import os
import platform
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "qrealign"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.excludes = ["Inputs", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py",
                   "Unit", "lit-utils", "fuzz"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qrealign_obj_root, "test")

llvm_config.use_default_substitutions()

# Tests that name x86 CPUs (qrealign-compile --mcpu).
if platform.machine() in ("x86_64", "AMD64"):
    config.available_features.add("host-x86_64")

# A sanitizer report must fail the test whatever the RUN line expects: ASan,
# LeakSanitizer and UBSan exit with code 1 by default, which `not` and
# `%exitcode 1` accept. Abort instead (SIGABRT fails both).
# allow_user_poisoning=0: our ASan-instrumented copies of LLVM's header-only
# BumpPtrAllocator (attribute storage construct() in the dialect) poison the
# rest of a new slab, which the uninstrumented libMLIR then allocates from
# and fills (a false use-after-poison in MLIR's uniquer, as in
# scripts/fuzz.sh). ASan's own checks are unaffected.
config.environment["ASAN_OPTIONS"] = (
    "abort_on_error=1:detect_leaks=1:allocator_may_return_null=0:"
    "allow_user_poisoning=0")
config.environment["UBSAN_OPTIONS"] = (
    "halt_on_error=1:abort_on_error=1:print_stacktrace=1")
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

src = config.qrealign_src_root
config.substitutions.append(("%qrealign_src_root", src))
config.substitutions.append(("%qrealign_obj_root", config.qrealign_obj_root))
config.substitutions.append(("%examples", os.path.join(src, "examples")))
config.substitutions.append(("%python", config.python_executable))
# The test helpers of test/lit-utils, run by Debian's python3.
for name, script in [("%exitcode", "exitcode.py"),
                     ("%mkckpt", "make-checkpoint.py"),
                     ("%mkhostile", "make-hostile.py"),
                     ("%truncations", "check-truncations.py"),
                     ("%maxrss", "maxrss.py"),
                     ("%mkbpe", "make-bpe-tokenizer.py"),
                     ("%cmplogits", "compare-logits.py"),
                     ("%settensor", "set-tensor.py"),
                     ("%extractptx", "extract-ptx.py")]:
    config.substitutions.append(
        (name, "%s %s" % (config.python_executable,
                          os.path.join(src, "test", "lit-utils", script))))
# The libtorch engine (libQRealignEngine.so) is built.
if config.with_engine:
    config.available_features.add("engine")
config.substitutions.append(
    ("%irgen", "%s %s" % (config.python_executable,
                          os.path.join(src, "python", "qrealign",
                                       "irgen.py"))))

tool_dirs = [config.qrealign_tools_dir, config.llvm_tools_dir]
tools = ["qrealign-opt", "qrealign-import", "qrealign-export", "qrealign-compile", "qrealign-run", "qrealign-tokenize",
         "qrealign-embed-example",
         "qrealign-data", "qrealign-train", "qrealign-eval", "qrealign-probe"]
llvm_config.add_tool_substitutions(tools, tool_dirs)

# Python's third-party `regex` module (Debian's python3-regex) understands
# \p{L}, the oracle of the byte-level BPE pre-tokenizer patterns.
if subprocess.call([config.python_executable, "-c", "import regex"],
                   stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("python-regex")

# scikit-learn (Debian's python3-sklearn): scripts/task-ceiling.py.
if subprocess.call([config.python_executable, "-c", "import sklearn"],
                   stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("sklearn")

# PyTorch (Debian's python3-torch): the calibration differential test's
# oracle.
if subprocess.call([config.python_executable, "-c", "import torch"],
                   stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("torch")

# matplotlib (Debian's python3-matplotlib): python/qrealign/plot_probes.py.
if subprocess.call([config.python_executable, "-c", "import matplotlib"],
                   stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL) == 0:
    config.available_features.add("matplotlib")
config.substitutions.append(
    ("%plotprobes", "%s %s" % (config.python_executable,
                               os.path.join(src, "python", "qrealign",
                                            "plot_probes.py"))))

# valgrind's memcheck sees reads past the end of buffers inside the
# uninstrumented LLVM/MLIR shared libraries; it cannot run ASan binaries.
if config.with_sanitizers:
    config.available_features.add("sanitizers")
elif shutil.which("valgrind"):
    config.available_features.add("valgrind")

if config.with_nvvm_target:
    config.available_features.add("nvvm-target")

# ptxas of the CUDA toolkit (no driver needed): cubins and register/spill
# reports of the PTX the NVVM path emits.
cuda = os.environ.get("CUDA_HOME", "/usr/local/cuda")
ptxas = os.path.join(cuda, "bin", "ptxas")
if os.access(ptxas, os.X_OK):
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", ptxas))
    config.substitutions.append(("%cuda", cuda))

# A usable GPU (CUDA driver and device): the tests that run GPU objects.
# Without one (CI), they are reported unsupported and their no-driver
# counterparts run.
# %gpu-chip is its chip (sm_90 on an H100): cubins run only on their own
# major version.
def _cuda_chip():
    import ctypes
    try:
        cuda_lib = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return None
    count, device = ctypes.c_int(0), ctypes.c_int(0)
    major, minor = ctypes.c_int(0), ctypes.c_int(0)
    if (cuda_lib.cuInit(0) != 0
            or cuda_lib.cuDeviceGetCount(ctypes.byref(count)) != 0
            or count.value == 0
            or cuda_lib.cuDeviceGet(ctypes.byref(device), 0) != 0):
        return None
    # CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR (75) and _MINOR (76).
    if (cuda_lib.cuDeviceGetAttribute(ctypes.byref(major), 75, device) != 0
            or cuda_lib.cuDeviceGetAttribute(ctypes.byref(minor), 76,
                                             device) != 0):
        return None
    return "sm_%d%d" % (major.value, minor.value)


_chip = _cuda_chip()
# The driver that runs no kernel (test/GPU/FakeDriver), for
# LD_LIBRARY_PATH=%fake-cuda.
config.substitutions.append(
    ("%fake-cuda", os.path.join(config.qrealign_obj_root, "test", "fake-cuda")))
if _chip:
    config.available_features.add("cuda-driver")
    config.substitutions.append(("%gpu-chip", _chip))

# The shared data and models sit beside the checkout when present.
shared = os.path.normpath(os.path.join(src, "..", "shared"))
if os.path.isdir(shared):
    config.available_features.add("shared-data")
    config.substitutions.append(("%shared", shared))
