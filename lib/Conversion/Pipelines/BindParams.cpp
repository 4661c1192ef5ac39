//===- BindParams.cpp - Parameters as function arguments ------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Conversion/Passes.h"
#include "qrealign/Conversion/Pipelines/Pipelines.h"
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

/// The storage of bound argument `arg` as the function reads it: followed
/// into layers, the `qrealign.dequantize` operand it is (levels: `int<b>`
/// (one b-bit level per byte, i8), `int4-pairs` (two offset-binary 4-bit
/// levels per byte, low first), `int<b>-words` (compressed-tensors'
/// pack_to_int32: 32/b levels per i32 word along a row); zero points:
/// `int<b>` or `int<b>-words-rows` (packed along the rows); scales:
/// `float`), else the type's default.
std::string storageOfUse(Value arg, RankedTensorType type) {
  SmallVector<Value> work = {arg};
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (OpOperand &use : v.getUses()) {
      Operation *user = use.getOwner();
      if (auto layer = dyn_cast<LayerOp>(user)) {
        unsigned first = layer.getInputs().getBeginOperandIndex();
        work.push_back(layer.getBody().front().getArgument(
            use.getOperandNumber() - first));
        continue;
      }
      auto deq = dyn_cast<DequantizeOp>(user);
      if (!deq || use.get() == deq.getScale())
        continue;
      Type e = type.getElementType();
      std::string bits = std::to_string(deq.getBits());
      bool levels = use.get() == deq.getPacked();
      if (e.isInteger(32))
        return "int" + bits + (levels ? "-words" : "-words-rows");
      if (levels && e.isUnsignedInteger(8))
        return "int4-pairs";
      // Bytes of which only the levels of `bits` are valid.
      return "int" + bits;
    }
  }
  return storageOf(type).str();
}

std::string dtypeOf(Type e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  e.print(os);
  return s;
}
} // namespace

std::string mlir::qrealign::getParamStorage(func::FuncOp fn, unsigned arg) {
  return storageOfUse(fn.getArgument(arg),
                      cast<RankedTensorType>(fn.getArgumentTypes()[arg]));
}

std::optional<int> mlir::qrealign::getByteLevelBits(StringRef storage) {
  int bits;
  if (!storage.consume_front("int") || storage.getAsInteger(10, bits) ||
      bits < 2 || bits >= 8)
    return std::nullopt;
  return bits;
}

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
  FailureOr<llvm::json::Value> doc = buildParamManifest(module);
  if (failed(doc))
    return signalPassFailure();
  if (llvm::Error err =
          ::qrealign::writeFileAtomically(manifest, [&](llvm::raw_ostream &os) {
            os << llvm::formatv("{0:2}", *doc) << "\n";
            return llvm::Error::success();
          })) {
    module.emitError("qrealign-bind-params: ")
        << llvm::toString(std::move(err));
    return signalPassFailure();
  }
  dropBoundParams(module);
}

/// A tensor type as the manifest writes it: dtype and shape, a dynamic size
/// as null.
static llvm::json::Object typeEntry(RankedTensorType type) {
  llvm::json::Array shape;
  for (int64_t d : type.getShape())
    shape.push_back(ShapedType::isDynamic(d) ? llvm::json::Value(nullptr)
                                             : llvm::json::Value(d));
  return llvm::json::Object{{"dtype", dtypeOf(type.getElementType())},
                            {"shape", std::move(shape)}};
}

FailureOr<llvm::json::Value>
mlir::qrealign::buildParamManifest(ModuleOp module) {
  SymbolTable symbols(module);
  bool ok = true;
  llvm::json::Object functions;
  for (auto fn : module.getOps<func::FuncOp>()) {
    if (fn.isExternal())
      continue;
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
      llvm::json::Object entry = typeEntry(type);
      entry["argument"] = int64_t(i);
      entry["symbol"] = sym.getValue();
      entry["scope"] = ext.getScope();
      entry["tensor"] = ext.getKey();
      entry["storage"] = storageOfUse(fn.getArgument(i), type);
      params.push_back(std::move(entry));
    }
    if (params.empty())
      continue;
    // The signature a runtime calls: the inputs before the parameters and
    // the results (every one a tensor once lowered for the manifest).
    llvm::json::Array arguments, results;
    for (unsigned i = 0; i < inputs; ++i) {
      auto type = dyn_cast<RankedTensorType>(fn.getArgumentTypes()[i]);
      if (!type) {
        fn.emitError() << "qrealign-bind-params: input " << i << " of @"
                       << fn.getSymName() << " is not a ranked tensor";
        ok = false;
        continue;
      }
      arguments.push_back(typeEntry(type));
    }
    for (auto [i, t] : llvm::enumerate(fn.getResultTypes())) {
      auto type = dyn_cast<RankedTensorType>(t);
      if (!type) {
        fn.emitError() << "qrealign-bind-params: result " << i << " of @"
                       << fn.getSymName() << " is not a ranked tensor";
        ok = false;
        continue;
      }
      results.push_back(typeEntry(type));
    }
    functions[fn.getSymName()] =
        llvm::json::Object{{"inputs", int64_t(inputs)},
                           {"arguments", std::move(arguments)},
                           {"results", std::move(results)},
                           {"params", std::move(params)}};
  }
  if (!ok)
    return failure();
  llvm::json::Object scopes;
  if (auto map = module->getAttrOfType<DictionaryAttr>("qrealign.params"))
    for (NamedAttribute entry : map)
      if (auto path = dyn_cast<StringAttr>(entry.getValue()))
        scopes[entry.getName().getValue()] = path.getValue();
  return llvm::json::Value(
      llvm::json::Object{{"format", "qrealign-manifest"},
                         {"version", kManifestVersion},
                         {"scopes", std::move(scopes)},
                         {"functions", std::move(functions)}});
}

void mlir::qrealign::dropBoundParams(ModuleOp module) {
  // The manifest records the bindings: the arguments' markers go too (the
  // LLVM IR translation would warn about every one).
  for (auto fn : module.getOps<func::FuncOp>())
    for (unsigned i = 0; i < fn.getNumArguments(); ++i)
      fn.removeArgAttr(i, "qrealign.param");
  for (auto param : llvm::make_early_inc_range(module.getOps<ParamOp>()))
    param.erase();
  module->removeAttr("qrealign.params");
}
