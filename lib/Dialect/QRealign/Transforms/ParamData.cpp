//===- ParamData.cpp - Parameter data for passes that compute weights -----===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Dialect/QRealign/Transforms/ParamData.h"
#include "qrealign/Quant/Quantizer.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/SymbolTable.h"

#include <cstring>

using namespace mlir;
using namespace mlir::qrealign;

/// `count` floats from raw storage of element type `elt`.
static std::optional<std::vector<float>> toFloats(ArrayRef<char> raw, Type elt,
                                                  size_t count) {
  using ::qrealign::FloatFormat;
  std::optional<FloatFormat> format;
  if (elt.isF32())
    format = FloatFormat::F32;
  else if (elt.isBF16())
    format = FloatFormat::BF16;
  else if (elt.isF16())
    format = FloatFormat::F16;
  size_t width = format == FloatFormat::F32 ? 4 : 2;
  if (!format || raw.size() != count * width)
    return std::nullopt;
  return ::qrealign::widenToF32(raw.data(), count, *format);
}

FailureOr<ArrayRef<char>> ParamReader::readBytes(ParamOp param) {
  RankedTensorType type = param.getTensorType();
  Type elt = type.getElementType();
  size_t count = type.getNumElements();
  size_t width = elt.getIntOrFloatBitWidth() / 8;
  ArrayRef<char> raw;
  auto error = [&]() { return param.emitError(passName) << ": "; };
  if (ExternalAttr ext = param.getExternal()) {
    const ParamEnvironment &env = module.getContext()
                                      ->getOrLoadDialect<QRealignDialect>()
                                      ->getParamEnvironment();
    std::unique_ptr<::qrealign::Checkpoint> &ckpt = checkpoints[ext.getScope()];
    if (!ckpt) {
      std::optional<std::string> path = env.resolve(module, ext.getScope());
      if (!path)
        return error() << "parameter scope '" << ext.getScope()
                       << "' has no file: map it in 'qrealign.params' or "
                          "pass --params "
                       << ext.getScope() << "=PATH";
      auto opened = ::qrealign::Checkpoint::open(*path);
      if (!opened)
        return error() << "parameter scope '" << ext.getScope()
                       << "': " << toString(opened.takeError());
      ckpt = std::move(*opened);
    }
    const ::qrealign::TensorInfo *t = ckpt->lookup(ext.getKey());
    if (!t || ArrayRef<int64_t>(t->shape) != type.getShape() ||
        ::qrealign::getDTypeSize(t->dtype) != width)
      return error() << "tensor '" << ext.getKey() << "' is not a " << type
                     << " in " << ckpt->getPath();
    auto data = ckpt->getData(*t);
    if (!data)
      return error() << toString(data.takeError());
    raw = ArrayRef(reinterpret_cast<const char *>(data->data()), data->size());
  } else if (auto dense = dyn_cast<DenseElementsAttr>(param.getInlineValue())) {
    raw = dense.getRawData();
    if (dense.isSplat()) {
      std::vector<char> &splat = splats.emplace_back(raw.size() * count);
      for (size_t i = 0; i < count; ++i)
        memcpy(splat.data() + i * raw.size(), raw.data(), raw.size());
      raw = splat;
    }
  } else if (auto res =
                 dyn_cast<DenseResourceElementsAttr>(param.getInlineValue())) {
    AsmResourceBlob *blob = res.getRawHandle().getBlob();
    if (!blob)
      return error() << "dense_resource blob has no data";
    raw = blob->getData();
  } else {
    return error() << "cannot read this kind of inline value";
  }
  if (raw.size() != count * width)
    return error() << "cannot read " << type << " from " << raw.size()
                   << " bytes";
  return raw;
}

FailureOr<std::vector<float>> ParamReader::readFloats(ParamOp param) {
  RankedTensorType type = param.getTensorType();
  FailureOr<ArrayRef<char>> raw = readBytes(param);
  if (failed(raw))
    return failure();
  std::optional<std::vector<float>> values =
      toFloats(*raw, type.getElementType(), type.getNumElements());
  if (!values)
    return param.emitError(passName)
           << ": cannot read " << type << " as floats (" << raw->size()
           << " bytes)";
  return std::move(*values);
}

LogicalResult mlir::qrealign::checkNewScope(ModuleOp module, StringRef passName,
                                            StringRef scope) {
  if (!ExternalAttr::isValidScope(scope))
    return module.emitError(passName)
           << ": scope '" << scope
           << "' is not a name ([A-Za-z_][A-Za-z0-9_-]*)";
  auto scopes = module->getAttrOfType<DictionaryAttr>(
      QRealignDialect::getParamsAttrName());
  if (scopes && scopes.get(scope))
    return module.emitError(passName)
           << ": scope '" << scope << "' is already mapped (to "
           << scopes.get(scope) << "); choose another scope=";
  return success();
}

LogicalResult mlir::qrealign::writeScope(
    ModuleOp module, StringRef passName, StringRef file, StringRef scope,
    ArrayRef<::qrealign::TensorToWrite> tensors,
    ArrayRef<std::pair<std::string, std::string>> metadata) {
  if (llvm::Error err = ::qrealign::writeSafeTensors(file, tensors, metadata))
    return module.emitError(passName) << ": " << toString(std::move(err));
  mapScope(module, scope, file);
  return success();
}

void mlir::qrealign::mapScope(ModuleOp module, StringRef scope,
                              StringRef file) {
  MLIRContext *ctx = module.getContext();
  const ParamEnvironment &env =
      ctx->getOrLoadDialect<QRealignDialect>()->getParamEnvironment();
  SmallVector<NamedAttribute> entries;
  if (auto scopes = module->getAttrOfType<DictionaryAttr>(
          QRealignDialect::getParamsAttrName()))
    entries.append(scopes.begin(), scopes.end());
  entries.push_back(
      NamedAttribute(StringAttr::get(ctx, scope),
                     StringAttr::get(ctx, env.recordedPath(file))));
  module->setAttr(QRealignDialect::getParamsAttrName(),
                  DictionaryAttr::get(ctx, entries));
}

::qrealign::TensorToWrite mlir::qrealign::f32Tensor(std::string name,
                                                    ArrayRef<int64_t> shape,
                                                    ArrayRef<float> values) {
  ::qrealign::TensorToWrite t;
  t.name = std::move(name);
  t.dtype = ::qrealign::DType::F32;
  t.shape.assign(shape.begin(), shape.end());
  t.data = ArrayRef(reinterpret_cast<const uint8_t *>(values.data()),
                    values.size() * sizeof(float));
  return t;
}

ParamOp ExternalParamDeclarer::declare(Operation *origin, StringRef name,
                                       RankedTensorType type, StringRef key) {
  if (key.empty())
    key = name;
  MLIRContext *ctx = type.getContext();
  OpBuilder b(ctx);
  Operation *&after = lastDeclared[origin];
  if (!after)
    after = origin;
  if (after)
    b.setInsertionPointAfter(after);
  else
    b.setInsertionPointToStart(&symbols.getOp()->getRegion(0).front());
  auto p = ParamOp::create(b, NameLoc::get(b.getStringAttr(key)), name, type,
                           ExternalAttr::get(ctx, scope, key));
  symbols.insert(p);
  after = p;
  return p;
}

ParamOp mlir::qrealign::lookupReadParam(Value v, SymbolTable &symbols) {
  auto get = v.getDefiningOp<GetParamOp>();
  return get ? symbols.lookup<ParamOp>(get.getName()) : ParamOp();
}

Value mlir::qrealign::createGetParam(OpBuilder &b, Location loc,
                                     ParamOp param) {
  return GetParamOp::create(b, loc, param.getTensorType(), param.getSymName());
}

StringRef mlir::qrealign::getTensorName(ParamOp param) {
  if (ExternalAttr ext = param.getExternal())
    return ext.getKey();
  return param.getSymName();
}
