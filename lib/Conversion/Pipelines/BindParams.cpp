//===- BindParams.cpp - Parameters as function arguments ------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"

#include "qrealign/Support/AtomicOutput.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

namespace mlir::qrealign {
#define GEN_PASS_DEF_QREALIGNBINDPARAMSPASS
#include "qrealign/Conversion/Passes.h.inc"
} // namespace mlir::qrealign

using namespace mlir;
using namespace mlir::qrealign;

namespace {
struct BindParamsPass
    : mlir::qrealign::impl::QRealignBindParamsPassBase<BindParamsPass> {
  using QRealignBindParamsPassBase::QRealignBindParamsPassBase;
  void runOnOperation() override;
};

/// The storage format of a parameter's bytes.
StringRef storageOf(RankedTensorType type) {
  Type e = type.getElementType();
  if (isa<FloatType>(e))
    return "float";
  if (e.isUnsignedInteger(8))
    return "int4-pairs";
  if (e.isInteger(8))
    return "int8";
  return "integer";
}

std::string dtypeOf(Type e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  e.print(os);
  return s;
}
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
    return signalPassFailure();
  if (manifest.empty())
    return;

  // The manifest: every bound argument of every function, then the
  // parameter ops go.
  llvm::json::Object functions;
  for (auto fn : module.getOps<func::FuncOp>()) {
    llvm::json::Array params;
    unsigned inputs = fn.getNumArguments();
    for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
      auto sym = fn.getArgAttrOfType<FlatSymbolRefAttr>(i, "qrealign.param");
      if (!sym)
        continue;
      inputs = std::min(inputs, i);
      auto param = symbols.lookup<ParamOp>(sym.getAttr());
      ExternalAttr ext = param ? param.getExternal() : ExternalAttr();
      if (!ext) {
        (param ? param.getOperation() : fn.getOperation())->emitError()
            << "qrealign-bind-params: parameter @" << sym.getValue()
            << " is inline; a manifest references tensors in files";
        ok = false;
        continue;
      }
      RankedTensorType type = param.getTensorType();
      llvm::json::Array shape;
      for (int64_t d : type.getShape())
        shape.push_back(d);
      params.push_back(
          llvm::json::Object{{"argument", int64_t(i)},
                             {"symbol", sym.getValue()},
                             {"scope", ext.getScope()},
                             {"tensor", ext.getKey()},
                             {"dtype", dtypeOf(type.getElementType())},
                             {"shape", std::move(shape)},
                             {"storage", storageOf(type)}});
    }
    if (params.empty())
      continue;
    functions[fn.getSymName()] = llvm::json::Object{
        {"inputs", int64_t(inputs)}, {"params", std::move(params)}};
  }
  if (!ok)
    return signalPassFailure();
  llvm::json::Object scopes;
  if (auto map = module->getAttrOfType<DictionaryAttr>("qrealign.params"))
    for (NamedAttribute entry : map)
      if (auto path = dyn_cast<StringAttr>(entry.getValue()))
        scopes[entry.getName().getValue()] = path.getValue();
  llvm::json::Value doc =
      llvm::json::Object{{"format", "qrealign-manifest"},
                         {"version", 1},
                         {"scopes", std::move(scopes)},
                         {"functions", std::move(functions)}};
  if (llvm::Error err =
          ::qrealign::writeFileAtomically(manifest, [&](llvm::raw_ostream &os) {
            os << llvm::formatv("{0:2}", doc) << "\n";
            return llvm::Error::success();
          })) {
    module.emitError("qrealign-bind-params: ")
        << llvm::toString(std::move(err));
    return signalPassFailure();
  }
  for (auto param : llvm::make_early_inc_range(module.getOps<ParamOp>()))
    param.erase();
  module->removeAttr("qrealign.params");
}
