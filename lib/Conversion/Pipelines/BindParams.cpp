//===- BindParams.cpp - Parameters as function arguments ------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNBINDPARAMSPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
struct BindParamsPass
    : qrealign::impl::QRealignBindParamsPassBase<BindParamsPass> {
  void runOnOperation() override;
};
} // namespace

void BindParamsPass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTable symbols(module);
  bool ok = true;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
    llvm::MapVector<StringAttr, SmallVector<GetParamOp>> reads;
    fn.walk([&](GetParamOp get) {
      reads[get.getNameAttr().getAttr()].push_back(get);
    });
    if (reads.empty())
      continue;
    if (std::optional<SymbolTable::UseRange> uses =
            SymbolTable::getSymbolUses(fn, module);
        uses && !uses->empty()) {
      fn.emitError() << "qrealign-bind-params: @" << fn.getSymName()
                     << " reads parameters and is called: its callers would "
                        "have to pass them";
      ok = false;
      continue;
    }
    for (auto &[name, gets] : reads) {
      auto param = symbols.lookup<ParamOp>(name);
      if (!param) {
        gets.front().emitError()
            << "qrealign-bind-params: no qrealign.param @" << name.getValue();
        ok = false;
        continue;
      }
      unsigned index = fn.getNumArguments();
      if (failed(fn.insertArgument(
              index, param.getTensorType(),
              DictionaryAttr::get(
                  &getContext(),
                  {NamedAttribute("qrealign.param",
                                  FlatSymbolRefAttr::get(name))}),
              param.getLoc()))) {
        fn.emitError() << "qrealign-bind-params: cannot add an argument";
        ok = false;
        continue;
      }
      Value arg = fn.getArgument(index);
      // A read inside a layer crosses its isolated region: the layer gets
      // the argument as one more input.
      llvm::DenseMap<Operation *, Value> perLayer;
      for (GetParamOp get : gets) {
        Value replacement = arg;
        if (auto layer = get->getParentOfType<LayerOp>()) {
          Value &inner = perLayer[layer];
          if (!inner) {
            layer.getInputsMutable().append(arg);
            inner = layer.getBody().front().addArgument(arg.getType(),
                                                        get.getLoc());
          }
          replacement = inner;
        }
        get.getResult().replaceAllUsesWith(replacement);
        get.erase();
      }
    }
  }
  if (!ok)
    signalPassFailure();
}
