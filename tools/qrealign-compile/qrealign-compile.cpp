//===- qrealign-compile.cpp - A model as an object file for the host ------===//
//
// qrealign-compile MODEL.mlir -o MODEL.o [--mcpu=native] [-O 3]
//     [--manifest FILE] [--params S=PATH] [--vectorize=false]
//     [--emulate-gpu | --gpu sm_NN [--cuda-toolkit DIR]]
//
// Ahead of time: the model's @forward becomes @prefill and @decode with an
// explicit KV cache (qrealign-build-kv-cache), every parameter an argument
// (qrealign-bind-params), lowered by qrealign-lower-to-cpu and compiled for
// the host CPU into one relocatable object file; with --gpu, lowered by
// qrealign-lower-to-nvvm instead: host code that launches the kernels
// (cubins for that GPU, assembled by the toolkit's ptxas, embedded) through
// qrealign's runtime, every buffer on the GPU. The object embeds its
// parameter manifest; the same manifest is written beside it
// (MODEL.manifest.json, or --manifest). Relative scope paths in it are
// relative to the object's directory. `qrealign-run MODEL.mlir --backend
// compiled --object MODEL.o` runs it (docs/lowering.md#ahead-of-time).
//
// Every problem is a located diagnostic and exit code 1; both files are
// written atomically, the object last.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/JIT.h"
#include "qrealign/Compiled/ObjectCode.h"
#include "qrealign/Conversion/Passes.h"
#include "qrealign/Conversion/Pipelines/Pipelines.h"
#include "qrealign/Dialect/QRealign/IR/NameLocDiagnostics.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Registration/Registration.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/IRInput.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

#include <chrono>

using namespace llvm;

static cl::OptionCategory category("qrealign-compile options");
static cl::opt<std::string> input(cl::Positional, cl::Required,
                                  cl::desc("<model.mlir>"), cl::cat(category));
static cl::opt<std::string> output("o", cl::Required,
                                   cl::desc("Output object file"),
                                   cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string>
    manifestPath("manifest",
                 cl::desc("Also write the manifest here (default: the "
                          "object's path with .manifest.json)"),
                 cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string>
    mcpu("mcpu",
         cl::desc("CPU to compile for: native (this host, default) or an "
                  "LLVM CPU name (x86-64-v3, skylake-avx512, ...)"),
         cl::init("native"), cl::cat(category));
static cl::opt<unsigned> optLevel("O", cl::desc("Optimization level 0-3"),
                                  cl::init(3), cl::Prefix, cl::cat(category));
static cl::opt<bool> vectorize("vectorize",
                               cl::desc("Tile and vectorize the contractions "
                                        "(qrealign-cpu-vectorize; default on)"),
                               cl::init(true), cl::cat(category));
static cl::opt<bool> emulateGPU(
    "emulate-gpu",
    cl::desc("Map the model as qrealign-lower-to-nvvm does (one thread per "
             "output, qrealign-gpu-loops) and run its launches as host loops: "
             "the GPU mapping checked against the engine where no GPU is"),
    cl::init(false), cl::cat(category));
static cl::opt<std::string>
    gpu("gpu",
        cl::desc("Compile for an NVIDIA GPU instead (sm_80, sm_90, ...): "
                 "qrealign-lower-to-nvvm, cubins through ptxas; the object "
                 "runs where a CUDA driver and such a GPU are"),
        cl::value_desc("sm_NN"), cl::init(""), cl::cat(category));
static cl::opt<std::string>
    cudaToolkit("cuda-toolkit",
                cl::desc("The CUDA toolkit whose ptxas assembles the kernels "
                         "(default /usr/local/cuda)"),
                cl::value_desc("dir"), cl::init("/usr/local/cuda"),
                cl::cat(category));
static cl::list<std::string>
    params("params",
           cl::desc("Map a parameter scope to a file: SCOPE=PATH (replaces "
                    "the module's qrealign.params entry)"),
           cl::value_desc("scope=path"), cl::cat(category));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-compile") << msg << "\n";
  return 1;
}

/// Seconds since `t0`, for the progress lines.
static double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
      .count();
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "qrealign-compile: a qrealign model as an object file for the host "
      "(prefill and decode with an explicit KV cache)\n");
  if (optLevel > 3)
    return error("-O must be 0, 1, 2 or 3");
  std::string manifestFile = manifestPath;
  if (manifestFile.empty() && output == "-")
    return error("-o -: name the manifest with --manifest FILE (an object "
                 "on standard output gives it no name)");
  if (manifestFile.empty()) {
    SmallString<256> m(output);
    sys::path::replace_extension(m, "manifest.json");
    manifestFile = m.str().str();
  }
  if (manifestFile == output)
    return error("the manifest and the object cannot be one file");
  std::string device = emulateGPU ? qrealign::kEmulatedGPU.str() : "";
  if (!gpu.empty()) {
    if (emulateGPU)
      return error("--gpu and --emulate-gpu: choose one (the second runs the "
                   "first's mapping on the host)");
    device = "cuda:" + gpu;
    Expected<std::string> chip = qrealign::getGPUChip(device);
    if (!chip)
      return error("--gpu " + gpu + ": not a chip name (sm_80, sm_90, ...)");
    unsigned version = 0;
    if (StringRef(gpu).drop_front(3).getAsInteger(10, version) || version < 80)
      return error("--gpu " + gpu +
                   ": the kernels need sm_80 or newer (mma.sync on i8 and "
                   "f16 operands)");
    if (!mlir::qrealign::hasNVVMTarget())
      return error("--gpu: this build has no NVVM target (configured with "
                   "QREALIGN_WITH_NVVM_TARGET=OFF)");
    // qrealign-lower-to-nvvm is a textual pipeline of registered passes.
    mlir::qrealign::registerAllPasses();
    SmallString<256> ptxas(cudaToolkit.getValue());
    sys::path::append(ptxas, "bin", "ptxas");
    if (!sys::fs::can_execute(ptxas))
      return error("--gpu: no ptxas at " + ptxas +
                   " (name the CUDA toolkit with --cuda-toolkit)");
  }
  Expected<qrealign::ObjectTarget> target = qrealign::getTargetForCPU(mcpu);
  if (!target)
    return error("--mcpu: " + toString(target.takeError()));

  mlir::DialectRegistry registry;
  mlir::qrealign::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  context.printOpOnDiagnostic(false);
  // Scope paths are recorded relative to the object's directory.
  mlir::qrealign::ParamEnvironment env;
  if (input != "-")
    env.inputDir = sys::path::parent_path(input).str();
  env.outputDir = sys::path::parent_path(output).str();
  if (env.outputDir.empty())
    env.outputDir = ".";
  if (Error err = env.addScopeFiles(
          std::vector<std::string>(params.begin(), params.end())))
    return error(toString(std::move(err)));
  context.getOrLoadDialect<mlir::qrealign::QRealignDialect>()
      ->setParamEnvironment(env);

  Expected<std::unique_ptr<MemoryBuffer>> file = qrealign::readIRFile(input);
  if (!file)
    return error(toString(file.takeError()));
  SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(std::move(*file), SMLoc());
  mlir::SourceMgrDiagnosticHandler handler(sourceMgr, &context);
  mlir::qrealign::NameLocDiagnosticHandler names(&context, "qrealign-compile");
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceFile<mlir::ModuleOp>(sourceMgr, &context);
  if (!module)
    return 1;
  auto t0 = std::chrono::steady_clock::now();

  // @prefill and @decode (keepModelEntryPoints), their parameters as
  // arguments.
  {
    mlir::PassManager pm(&context);
    pm.addPass(mlir::qrealign::createQRealignRebaseParamsPass());
    pm.addPass(mlir::qrealign::createQRealignBuildKVCachePass());
    if (mlir::failed(pm.run(*module)))
      return 1;
  }
  qrealign::keepModelEntryPoints(*module);
  for (auto fn : module->getOps<mlir::func::FuncOp>())
    fn->setAttr(mlir::LLVM::LLVMDialect::getEmitCWrapperAttrName(),
                mlir::UnitAttr::get(&context));
  {
    mlir::PassManager pm(&context);
    pm.addPass(mlir::qrealign::createQRealignBindParamsPass());
    if (mlir::failed(pm.run(*module)))
      return 1;
  }
  mlir::FailureOr<json::Value> manifest =
      mlir::qrealign::buildParamManifest(*module);
  if (mlir::failed(manifest))
    return 1;
  std::string manifestText = formatv("{0:2}", *manifest).str() + "\n";
  mlir::qrealign::dropBoundParams(*module);
  std::string tiles;
  if (gpu.empty()) {
    mlir::PassManager pm(&context);
    mlir::qrealign::LowerToCPUOptions options;
    options.vectorize = vectorize;
    options.emulateGPU = emulateGPU;
    // The tiles of the CPU compiled for, which need not be this host.
    auto [rows, lanes] =
        mlir::qrealign::getCPUVectorizeTiles(target->featureMap());
    options.tileRows = rows;
    options.lanes = lanes;
    if (vectorize && !emulateGPU)
      tiles = formatv(" (linears in tiles of {0} token{1} x 8 outputs x {2} "
                      "lanes)",
                      rows, rows == 1 ? "" : "s", lanes)
                  .str();
    mlir::qrealign::buildLowerToCPUPipeline(pm, options);
    if (mlir::failed(pm.run(*module)))
      return 1;
  } else {
    mlir::PassManager pm(&context);
    mlir::qrealign::LowerToNVVMOptions options;
    options.chip = gpu;
    options.format = "bin";
    options.toolkit = cudaToolkit;
    mlir::qrealign::buildLowerToNVVMPipeline(pm, options);
    if (mlir::failed(pm.run(*module)))
      return 1;
  }
  errs() << formatv("qrealign-compile: lowered to LLVM{0}{3} in {1:f1} s; "
                    "generating host code for {2}\n",
                    gpu.empty() ? "" : " and " + gpu + " cubins", since(t0),
                    target->cpu, tiles);
  Expected<SmallVector<char, 0>> object =
      qrealign::emitObject(*module, manifestText, *target, optLevel, device);
  if (!object)
    return error(toString(object.takeError()));

  if (Error err =
          qrealign::writeFileAtomically(manifestFile, [&](raw_ostream &os) {
            os << manifestText;
            return Error::success();
          }))
    return error(toString(std::move(err)));
  if (Error err = qrealign::writeFileAtomically(output, [&](raw_ostream &os) {
        os.write(object->data(), object->size());
        return Error::success();
      }))
    return error(toString(std::move(err)));
  errs() << formatv("qrealign-compile: wrote {0} ({1} KiB) and {2} in "
                    "{3:f1} s\n",
                    output, object->size() / 1024, manifestFile, since(t0));
  return 0;
}
