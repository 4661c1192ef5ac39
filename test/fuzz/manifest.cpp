//===- manifest.cpp - Fuzz the parameter manifest reader ------------------===//
//
// Input: the text of a parameter manifest (what qrealign-compile embeds in
// an object and writes beside it). An accepted manifest keeps the
// promises of parseManifest: each function's argument types number its
// inputs, its parameters follow the inputs in order with static shapes,
// and every parameter's scope is listed.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/Manifest.h"

#include <cstdlib>

using namespace qrealign;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef text(reinterpret_cast<const char *>(data), size);
  llvm::Expected<Manifest> manifest = parseManifest(text, "fuzz.json");
  if (!manifest) {
    llvm::consumeError(manifest.takeError());
    return 0;
  }
  for (const auto &[name, fn] : manifest->functions) {
    if (fn.inputs < 0 || size_t(fn.inputs) != fn.arguments.size())
      abort();
    for (size_t k = 0; k < fn.params.size(); ++k) {
      const ManifestParam &p = fn.params[k];
      if (p.argument != fn.inputs + int64_t(k) ||
          !manifest->scopes.count(p.scope))
        abort();
      for (const std::optional<int64_t> &d : p.shape)
        if (!d)
          abort();
    }
  }
  return 0;
}
