//===- linear_cpu.cpp - Time one compiled linear --------------------------===//
//
// Part of the qrealign project.
//
// qrealign-bench-linear --k K --n N --m M --scheme float|w8a8|w4a16|w4a8
//     [--runs R] [--scalar] [--swiglu]
//
// Builds one `qrealign.linear` of the scheme (weights quantized round to
// nearest by the quantizer the passes use, packed as
// qrealign-quantize-weights packs them; W4A16 in groups of 128), lowers it
// with qrealign-lower-to-cpu (--scalar: vectorize=false), JIT-compiles it,
// and prints one JSON line with the median and minimum milliseconds of R
// calls on random inputs (one thread). With --swiglu the linear's input is
// `qrealign.swiglu` of two M x K inputs (gate, up), as down_proj's is in a
// Llama MLP. bench/compiled_linear.py runs it beside PyTorch's float
// matmul. Not a test.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/JIT.h"
#include "qrealign/Quant/Quantizer.h"
#include "qrealign/Registration/Registration.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

using namespace llvm;
using namespace ::qrealign;

static cl::opt<int64_t> kOpt("k", cl::desc("Input features"), cl::init(4096));
static cl::opt<int64_t> nOpt("n", cl::desc("Output features"), cl::init(4096));
static cl::opt<int64_t> mOpt("m", cl::desc("Tokens"), cl::init(1));
static cl::opt<std::string> schemeOpt("scheme",
                                      cl::desc("float, w8a8, w4a16 or w4a8"),
                                      cl::init("float"));
static cl::opt<int64_t> rowsLimitOpt(
    "packed-rows-limit",
    cl::desc("qrealign-lower-to-cpu's option: at most this many rows read "
             "packed weights in their contraction (0: always unpacked)"),
    cl::init(4));
static cl::opt<int64_t>
    intRowsLimitOpt("packed-int-rows-limit",
                    cl::desc("The same for the integer path (w4a8)"),
                    cl::init(2));
static cl::opt<bool> narrowLevelsOpt(
    "narrow-levels",
    cl::desc("qrealign-lower-to-cpu's option: 4-bit storage read as i4 "
             "levels bound by narrow-type emulation (false: as bytes)"),
    cl::init(true));
static cl::opt<int64_t>
    tileRowsOpt("tile-rows",
                cl::desc("qrealign-lower-to-cpu's option: tokens per tile of "
                         "a linear (0: for the host)"),
                cl::init(mlir::qrealign::LowerToCPUOptions().tileRows));
static cl::opt<int64_t>
    lanesOpt("lanes",
             cl::desc("qrealign-lower-to-cpu's option: partial sums per "
                      "output (0: for the host)"),
             cl::init(mlir::qrealign::LowerToCPUOptions().lanes));
static cl::opt<int> runsOpt("runs", cl::desc("Timed calls"), cl::init(20));
static cl::opt<bool> scalarOpt("scalar",
                               cl::desc("Lower without vectorization"));
static cl::opt<bool>
    swigluOpt("swiglu", cl::desc("The linear's input is SwiGLU of two inputs "
                                 "(gate, up), as down_proj's"));

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv, "time one compiled linear\n");
  int64_t k = kOpt, n = nOpt, m = mOpt;
  std::string scheme = schemeOpt;
  if (scheme != "float" && scheme != "w8a8" && scheme != "w4a16" &&
      scheme != "w4a8") {
    errs() << "qrealign-bench-linear: unknown scheme '" << scheme << "'\n";
    return 1;
  }
  if (k <= 0 || n <= 0 || m <= 0 || k % 128 || runsOpt < 1) {
    errs() << "qrealign-bench-linear: K must be a multiple of 128, sizes "
              "and runs positive\n";
    return 1;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> w(n * k), x(m * k), u(m * k);
  for (float &v : w)
    v = 0.02f * normal(rng);
  for (float &v : x)
    v = normal(rng);
  for (float &v : u)
    v = normal(rng);

  // The linear's input: %x, or SwiGLU of %x (gate) and %u (up).
  std::string extraArg, input = "%x", prologue;
  if (swigluOpt) {
    extraArg = formatv(", %u: tensor<?x{0}xf32>", k).str();
    prologue =
        formatv("  %in = qrealign.swiglu %x, %u : tensor<?x{0}xf32>\n", k)
            .str();
    input = "%in";
  }

  std::string nk = formatv("{0}x{1}", n, k).str();
  std::string src, packedType;
  std::vector<uint8_t> packed;
  QuantizedWeight qw;
  if (scheme == "float") {
    src = formatv("func.func @linear(%x: tensor<?x{0}xf32>{3}, %w: "
                  "tensor<{1}xf32>) -> tensor<?x{2}xf32> {{\n{4}"
                  "  %y = qrealign.linear \"q_proj\" {5}, %w : (tensor<?x{0}"
                  "xf32>, tensor<{1}xf32>) -> tensor<?x{2}xf32>\n"
                  "  return %y : tensor<?x{2}xf32>\n}\n",
                  k, nk, n, extraArg, prologue, input)
              .str();
  } else {
    WeightQuantSpec spec;
    spec.bits = scheme == "w8a8" ? 8 : 4;
    spec.groupSize = scheme == "w8a8" ? 0 : 128;
    spec.symmetric = false;
    qw = quantizeWeight(w, n, k, spec);
    packed = packWeight(qw.q, n, k, spec.bits);
    packedType = spec.bits == 8
                     ? formatv("tensor<{0}xi8>", nk).str()
                     : formatv("tensor<{0}x{1}xui8>", n, k / 2).str();
    std::string range = formatv("{0}x{1}", qw.scaleRows, qw.groups).str();
    std::string quant =
        spec.bits == 8     ? "#qrealign.quant<w_bits = 8, a_bits = 8>"
        : scheme == "w4a8" ? "#qrealign.quant<w_bits = 4, a_bits = 8, "
                             "granularity = per_group, group_size = 128>"
                           : "#qrealign.quant<w_bits = 4, granularity = "
                             "per_group, group_size = 128>";
    src = formatv("func.func @linear(%x: tensor<?x{0}xf32>{7}, %p: {1}, %s: "
                  "tensor<{2}xf32>, %z: tensor<{2}xi8>) -> "
                  "tensor<?x{3}xf32> {{\n{8}"
                  "  %w = qrealign.dequantize %p, %s zero_point %z bits = "
                  "{4} : ({1}, tensor<{2}xf32>, tensor<{2}xi8>) -> "
                  "tensor<{5}xf32>\n"
                  "  %y = qrealign.linear \"q_proj\" {9}, %w {{quant = {6}} "
                  ": (tensor<?x{0}xf32>, tensor<{5}xf32>) -> "
                  "tensor<?x{3}xf32>\n"
                  "  return %y : tensor<?x{3}xf32>\n}\n",
                  k, packedType, range, n, spec.bits, nk, quant, extraArg,
                  prologue, input)
              .str();
  }

  mlir::DialectRegistry registry;
  mlir::qrealign::registerAllDialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(src, &ctx);
  if (!module)
    return 1;
  auto start = std::chrono::steady_clock::now();
  mlir::qrealign::LowerToCPUOptions options;
  options.vectorize = !scalarOpt;
  options.packedRowsLimit = rowsLimitOpt;
  options.packedIntRowsLimit = intRowsLimitOpt;
  options.narrowLevels = narrowLevelsOpt;
  options.tileRows = tileRowsOpt;
  options.lanes = lanesOpt;
  auto jit = JitModule::compile(*module, options);
  if (!jit) {
    errs() << toString(jit.takeError()) << "\n";
    return 1;
  }
  double compileS =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  auto fn = (*jit)->lookup("linear");
  if (!fn) {
    errs() << toString(fn.takeError()) << "\n";
    return 1;
  }
  using X = MemRefDescriptor<float, 2>;
  X xd = viewOf(x.data(), {m, k});
  X ud = viewOf(u.data(), {m, k});
  X wd = viewOf(w.data(), {n, k});
  auto pd = viewOf(packed.data(), {n, scheme == "w8a8" ? k : k / 2});
  auto sd = viewOf(qw.scale.data(), {qw.scaleRows, qw.groups});
  auto zd = viewOf(qw.zeroPoint.data(), {qw.scaleRows, qw.groups});
  std::vector<double> ms;
  float sink = 0;
  for (int r = 0; r < runsOpt + 1; ++r) {
    X yd{};
    auto t0 = std::chrono::steady_clock::now();
    if (scheme == "float" && swigluOpt)
      reinterpret_cast<void (*)(X *, X *, X *, X *)>(*fn)(&yd, &xd, &ud, &wd);
    else if (scheme == "float")
      reinterpret_cast<void (*)(X *, X *, X *)>(*fn)(&yd, &xd, &wd);
    else if (swigluOpt)
      reinterpret_cast<void (*)(X *, X *, X *, decltype(pd) *, decltype(sd) *,
                                decltype(zd) *)>(*fn)(&yd, &xd, &ud, &pd, &sd,
                                                      &zd);
    else
      reinterpret_cast<void (*)(X *, X *, decltype(pd) *, decltype(sd) *,
                                decltype(zd) *)>(*fn)(&yd, &xd, &pd, &sd, &zd);
    double t = std::chrono::duration<double, std::milli>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
    sink += yd.aligned[yd.offset];
    free(yd.allocated);
    if (r > 0) // the first call warms up
      ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  outs() << formatv("{{\"scheme\": \"{0}\", \"m\": {1}, \"n\": {2}, \"k\": "
                    "{3}, \"vectorized\": {4}, \"swiglu\": {9}, "
                    "\"median_ms\": {5:f4}, \"min_ms\": {6:f4}, "
                    "\"compile_s\": {7:f2}, \"check\": {8}}\n",
                    scheme, m, n, k, scalarOpt ? "false" : "true",
                    ms[ms.size() / 2], ms.front(), compileS, sink,
                    swigluOpt ? "true" : "false");
  return 0;
}
