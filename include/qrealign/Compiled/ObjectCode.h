//===- ObjectCode.h - Compiled qrealign functions as object files -*- C++
//-*-===//
//
// Part of the qrealign project.
//
// Ahead of time: a module lowered by qrealign-lower-to-cpu becomes one
// relocatable object file (ELF on Linux) that carries
//
//  - every public function's C interface `_mlir_ciface_NAME` and a packed
//    entry point `_mlir__mlir_ciface_NAME(void **args)` (args[i] points to
//    the i-th argument; the ABI of mlir::ExecutionEngine::invokePacked);
//  - `qrealign_manifest`: the parameter manifest (buildParamManifest), a
//    NUL-terminated string, so that an object cannot be paired with the
//    manifest of another compilation;
//  - `qrealign_target`: "TRIPLE;CPU;FEATURES" it was compiled for;
//  - `qrealign_device`: where its buffers live: "" (host code, the CPU
//    pipeline), "emulated-gpu" (qrealign-lower-to-cpu{emulate-gpu}: the
//    GPU mapping as host loops, buffers handled as a GPU's) or
//    "cuda:sm_NN" (qrealign-lower-to-nvvm: host code that launches the
//    embedded cubins through qrealign's runtime, every buffer on the GPU);
//  - `qrealign_init` and `qrealign_fini`: the module's global constructors
//    and destructors (the GPU kernels' module loads), which ObjectModule
//    calls itself.
//
// ObjectModule loads such a file into the process (ORC links it in memory:
// no code is generated at load time, no system linker is needed), checks
// that the host can execute it, and calls its entry points. Object files
// are code: load only those you compiled.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_COMPILED_OBJECTCODE_H
#define QREALIGN_COMPILED_OBJECTCODE_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"

#include <memory>
#include <string>

namespace llvm::orc {
class LLJIT;
} // namespace llvm::orc

namespace qrealign {
/// What an object is compiled for.
struct ObjectTarget {
  std::string triple, cpu;
  /// Subtarget features, "+avx2,+fma,-avx512f,...".
  std::string features;
  /// "TRIPLE;CPU;FEATURES", the form an object records.
  std::string str() const;
  /// `features` as a map: each feature named, true where enabled.
  llvm::StringMap<bool> featureMap() const;
};

/// The host: its triple, CPU and the features it has.
ObjectTarget getHostTarget();
/// `cpu` ("native" is the host) of the host's triple, with the CPU's own
/// features; an error names a CPU that LLVM does not know.
llvm::Expected<ObjectTarget> getTargetForCPU(llvm::StringRef cpu);

/// The `qrealign_device` of a module lowered by
/// qrealign-lower-to-cpu{emulate-gpu}.
inline constexpr llvm::StringLiteral kEmulatedGPU = "emulated-gpu";
/// "sm_90" of "cuda:sm_90", or an error naming `device`.
llvm::Expected<std::string> getGPUChip(llvm::StringRef device);

/// Emits `module` (the LLVM dialect, as qrealign-lower-to-cpu or
/// qrealign-lower-to-nvvm leave it, public functions with a C interface)
/// as a relocatable object for host `target`, optimized at -O`optLevel`,
/// with `manifest` and `device` embedded (see the file comment).
llvm::Expected<llvm::SmallVector<char, 0>>
emitObject(mlir::ModuleOp module, llvm::StringRef manifest,
           const ObjectTarget &target, unsigned optLevel = 3,
           llvm::StringRef device = "");

class ObjectModule {
public:
  ~ObjectModule();
  /// Loads the object file at `path`: checks that it is a relocatable
  /// object qrealign-compile wrote (its two strings) and that the host
  /// has every feature it was compiled for, and links it in memory
  /// (symbols of the C library and MLIR's C runner utilities resolve; a
  /// GPU object's `mgpu*` calls resolve to qrealign's runtime, and it
  /// loads only where a CUDA driver and GPU are), then runs its
  /// initializers (a GPU object's kernels are loaded then; a failure is an
  /// error here).
  static llvm::Expected<std::unique_ptr<ObjectModule>>
  load(llvm::StringRef path);

  llvm::StringRef getManifest() const { return manifest; }
  const ObjectTarget &getTarget() const { return target; }
  /// Its `qrealign_device` ("" for host code).
  llvm::StringRef getDevice() const { return device; }
  bool isCUDA() const { return llvm::StringRef(device).starts_with("cuda:"); }
  /// The packed entry point of function `name` (see the file comment).
  llvm::Expected<void (*)(void **)> lookupPacked(llvm::StringRef name);

private:
  ObjectModule() = default;
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::string manifest;
  ObjectTarget target;
  std::string device;
  /// Its destructors (kernel modules unloaded), run before unlinking.
  void (*fini)() = nullptr;
};
} // namespace qrealign

#endif // QREALIGN_COMPILED_OBJECTCODE_H
