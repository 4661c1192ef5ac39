//===- CheckFusion.cpp - Deployment legality of fusion groups -------------===//
//
// Part of the qrealign project.
//
// Fused-GEMM runtimes (vLLM's QKVParallelLinear and MergedColumnParallel-
// Linear) run the members of a fusion group as one GEMM over one input with
// one quantization scheme. The IR states the groups explicitly (the
// linears' `fusion` attribute); this pass checks that each group can be
// deployed so. It is a pass, not a verifier rule: whether two ops form a
// deployable group depends on their neighbours, and upstream rewrites
// (--cse, --canonicalize) must never turn valid IR invalid.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNCHECKFUSIONPASS
#include "qrealign/Dialect/QRealign/Transforms/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
struct CheckFusionPass
    : qrealign::impl::QRealignCheckFusionPassBase<CheckFusionPass> {
  void runOnOperation() override {
    // Groups are scoped by the block that holds them (one layer body, or a
    // function body outside layers).
    llvm::MapVector<std::pair<Block *, StringAttr>, SmallVector<LinearOp>>
        groups;
    getOperation().walk([&](LinearOp op) {
      if (StringAttr fusion = op.getFusionAttr())
        groups[{op->getBlock(), fusion}].push_back(op);
    });
    bool ok = true;
    for (auto &[key, members] : groups) {
      LinearOp first = members.front();
      ++numGroups;
      for (LinearOp op : ArrayRef(members).drop_front()) {
        auto report = [&](StringRef why) {
          InFlightDiagnostic diag = op.emitError()
                                    << "fusion group '" << key.second.getValue()
                                    << "': '" << op.getName() << "' " << why
                                    << " '" << first.getName()
                                    << "', so they cannot run as one GEMM";
          diag.attachNote(first.getLoc())
              << "'" << first.getName() << "' is here";
          ok = false;
        };
        if (op.getInput() != first.getInput())
          report("reads another input than");
        else if (op.getQuantAttr() != first.getQuantAttr())
          report("has another 'quant' scheme than");
      }
    }
    if (!ok)
      signalPassFailure();
  }
};
} // namespace
