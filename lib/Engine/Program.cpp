//===- Program.cpp - Lower qrealign IR to an engine program ---------------===//

#include "qrealign/Engine/Program.h"
#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Quant/Quantizer.h"
#include "qrealign/Support/Limits.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::qrealign;

namespace qrealign {
Program::Program() = default;
Program::~Program() = default;

size_t Program::getNumLinears() const {
  return llvm::count_if(
      instrs, [](const qr_instr &i) { return i.opcode == QR_OP_LINEAR; });
}

std::optional<int32_t> getParamDType(mlir::Type elt) {
  if (elt.isF32())
    return QR_DTYPE_F32;
  if (elt.isF16())
    return QR_DTYPE_F16;
  if (elt.isBF16())
    return QR_DTYPE_BF16;
  if (elt.isInteger(1))
    return QR_DTYPE_BOOL;
  if (elt.isInteger(8))
    return cast<IntegerType>(elt).isUnsigned() ? QR_DTYPE_U8 : QR_DTYPE_I8;
  if (elt.isInteger(32))
    return QR_DTYPE_I32;
  if (elt.isInteger(64))
    return QR_DTYPE_I64;
  return std::nullopt;
}

static int32_t toQRDType(DType d) {
  switch (d) {
  case DType::F32:
    return QR_DTYPE_F32;
  case DType::F16:
    return QR_DTYPE_F16;
  case DType::BF16:
    return QR_DTYPE_BF16;
  case DType::I8:
    return QR_DTYPE_I8;
  case DType::U8:
    return QR_DTYPE_U8;
  case DType::I32:
    return QR_DTYPE_I32;
  case DType::I64:
    return QR_DTYPE_I64;
  }
  return -1;
}

static std::string resolve(StringRef path, StringRef baseDir) {
  if (path.empty() || llvm::sys::path::is_absolute(path) || baseDir.empty())
    return path.str();
  llvm::SmallString<256> p(baseDir);
  llvm::sys::path::append(p, path);
  return std::string(p);
}

namespace {
struct OpRule;
} // namespace

class ProgramLowering {
public:
  ProgramLowering(ModuleOp module, const ParamEnvironment &env,
                  bool parametersOnly)
      : module(module), env(env), parametersOnly(parametersOnly),
        prog(new Program()) {}

  FailureOr<std::unique_ptr<Program>> run(StringRef function);

private:
  const char *str(StringRef s) {
    prog->strings.push_back(s.str());
    return prog->strings.back().c_str();
  }
  LogicalResult lowerParams();
  func::FuncOp loweredFunc;
  LogicalResult lowerModelInterface(func::FuncOp forward);
  LogicalResult lowerFunctionInterface(func::FuncOp func);
  FailureOr<Checkpoint *> openScope(ParamOp user, StringRef scope);
  /// The lowering of every op the engine runs as one instruction.
  static const llvm::DenseMap<TypeID, OpRule> &getOpRules();
  LogicalResult lowerBlock(Block &block);
  LogicalResult lowerLayer(LayerOp layer);
  LogicalResult linearFields(LinearOp linear, qr_instr &in);
  FailureOr<int32_t> param(Operation *user, Value v);
  FailureOr<std::vector<float>> evalWeight(Value v);
  FailureOr<int32_t> weight(Operation *user, Value v);
  std::vector<float> floats(int32_t index) const;
  int32_t addF32Param(const qr_param &like, std::vector<float> values,
                      int64_t n, int64_t k);
  FailureOr<int32_t> value(Operation *user, Value v);
  int32_t define(Value v) {
    int32_t id = numValues++;
    values[v] = id;
    return id;
  }
  qr_instr newInstr(int32_t opcode) {
    qr_instr in{};
    in.opcode = opcode;
    for (int32_t &i : in.inputs)
      i = -1;
    for (int32_t &p : in.params)
      p = -1;
    in.output = -1;
    in.name = "";
    in.layer = currentLayer;
    in.quant.w_bits = 16;
    in.quant.a_bits = 16;
    return in;
  }

  ModuleOp module;
  const ParamEnvironment &env;
  bool parametersOnly;
  std::unique_ptr<Program> prog;
  llvm::StringMap<Checkpoint *> scopes;
  llvm::StringMap<int32_t> paramIndex;
  llvm::DenseMap<Operation *, int32_t> foldedIndex;
  llvm::DenseMap<Value, int32_t> values;
  int32_t numValues = 0;
  int32_t currentLayer = -1;
  int32_t numLayers = 0;
};

/// The checkpoint of `scope`, opened on first use: the file `--params`
/// gives, else the module's `qrealign.params` entry.
FailureOr<Checkpoint *> ProgramLowering::openScope(ParamOp user,
                                                   StringRef scope) {
  auto it = scopes.find(scope);
  if (it != scopes.end())
    return it->second;
  std::string path = env.resolve(module, scope).value_or("");
  if (path.empty())
    return user.emitError("parameter scope '")
           << scope << "' has no file: map it in '"
           << QRealignDialect::getParamsAttrName() << "' or pass --params "
           << scope << "=PATH";
  auto ckpt = Checkpoint::open(path);
  if (!ckpt)
    return user.emitError("parameter scope '")
           << scope << "': " << llvm::toString(ckpt.takeError());
  prog->checkpoints.push_back(std::move(*ckpt));
  return scopes[scope] = prog->checkpoints.back().get();
}

LogicalResult ProgramLowering::lowerParams() {
  auto params = llvm::to_vector(module.getOps<ParamOp>());
  // A scope given on the command line that nothing uses is a typo.
  for (const auto &[scope, path] : env.scopeFiles)
    if (llvm::none_of(params, [&](ParamOp p) {
          ExternalAttr ext = p.getExternal();
          return ext && ext.getScope() == scope;
        }))
      return mlir::emitError(UnknownLoc::get(module.getContext()), "--params ")
             << scope << "=" << path << ": no parameter of the module "
             << "is in scope '" << scope << "'";
  // Parameters that a read of the lowered function marks trainable
  // (calibration functions).
  llvm::StringSet<> trainable;
  loweredFunc.walk([&](GetParamOp get) {
    if (get.getTrainable())
      trainable.insert(get.getName());
  });
  for (ParamOp p : params) {
    auto type = cast<RankedTensorType>(p.getType());
    qr_param out{};
    out.name = str(p.getSymName());
    if (trainable.contains(p.getSymName()))
      out.flags |= QR_PARAM_TRAINABLE;
    std::optional<int32_t> dtype = getParamDType(type.getElementType());
    if (!dtype || *dtype == QR_DTYPE_BOOL)
      return p.emitError("the engine cannot load parameters of element type ")
             << type.getElementType();
    out.dtype = *dtype;
    if (type.getRank() > 4)
      return p.emitError("the engine supports parameters of rank <= 4");
    out.rank = type.getRank();
    for (auto [i, d] : llvm::enumerate(type.getShape()))
      out.shape[i] = d;
    // Sizes from IR are input: checked, and bounded before any copy.
    std::optional<uint64_t> checkedBytes = getCheckedByteSize(
        type.getShape(), type.getElementType().getIntOrFloatBitWidth() / 8);
    if (!checkedBytes)
      return p.emitError("parameter of type ")
             << type << " has more bytes than 64 bits can count";
    size_t bytes = *checkedBytes;
    ExternalAttr ext = p.getExternal();
    prog->tensorNames.push_back(ext ? ext.getKey().str()
                                    : p.getSymName().str());
    if (ext) {
      FailureOr<Checkpoint *> opened = openScope(p, ext.getScope());
      if (failed(opened))
        return failure();
      Checkpoint &ckpt = **opened;
      StringRef name = ext.getKey();
      const TensorInfo *t = ckpt.lookup(name);
      if (!t)
        return p.emitError("tensor '")
               << name << "' is not in " << ckpt.getPath() << " (scope '"
               << ext.getScope() << "')";
      if (toQRDType(t->dtype) != out.dtype ||
          ArrayRef<int64_t>(t->shape) != type.getShape())
        return p.emitError("tensor '")
               << name << "' is " << getDTypeName(t->dtype) << " "
               << t->getShapeString() << " in " << ckpt.getPath()
               << " but the parameter is declared " << type;
      auto data = ckpt.getData(*t);
      if (!data)
        return p.emitError(llvm::toString(data.takeError()));
      out.data = data->data();
    } else {
      ElementsAttr value = p.getInlineValue();
      ArrayRef<char> raw;
      if (auto res = dyn_cast<DenseResourceElementsAttr>(value)) {
        AsmResourceBlob *blob = res.getRawHandle().getBlob();
        if (!blob)
          return p.emitError("dense_resource blob '")
                 << res.getRawHandle().getKey() << "' has no data";
        raw = blob->getData();
      } else if (auto dense = dyn_cast<DenseElementsAttr>(value)) {
        if (dense.isSplat()) {
          ArrayRef<char> one = dense.getRawData();
          // A splat is one element in the IR; the engine needs it expanded.
          if (llvm::Error err = checkAllocation(
                  bytes, "expanding the splat value of @" + p.getSymName()))
            return p.emitError(llvm::toString(std::move(err)));
          std::vector<uint8_t> buf(bytes);
          for (size_t off = 0; off + one.size() <= bytes; off += one.size())
            memcpy(buf.data() + off, one.data(), one.size());
          prog->buffers.push_back(std::move(buf));
          raw = ArrayRef<char>(
              reinterpret_cast<const char *>(prog->buffers.back().data()),
              bytes);
        } else {
          raw = dense.getRawData();
        }
      } else {
        return p.emitError("the engine cannot read this kind of inline value");
      }
      if (raw.size() != bytes)
        return p.emitError("inline data has ")
               << raw.size() << " bytes, the type needs " << bytes;
      out.data = raw.data();
    }
    paramIndex[p.getSymName()] = prog->params.size();
    prog->params.push_back(out);
  }
  return success();
}

FailureOr<int32_t> ProgramLowering::param(Operation *user, Value v) {
  auto get = v.getDefiningOp<GetParamOp>();
  if (!get)
    return user->emitError("the engine needs this operand to come from "
                           "qrealign.get_param");
  auto it = paramIndex.find(get.getName());
  if (it == paramIndex.end())
    return get.emitError("unknown parameter @") << get.getName();
  return it->second;
}

/// The elements of parameter `index` (f32, f16 or bf16) as floats.
std::vector<float> ProgramLowering::floats(int32_t index) const {
  const qr_param &p = prog->params[index];
  size_t count = 1;
  for (int r = 0; r < p.rank; ++r)
    count *= p.shape[r];
  FloatFormat format = p.dtype == QR_DTYPE_F32    ? FloatFormat::F32
                       : p.dtype == QR_DTYPE_BF16 ? FloatFormat::BF16
                                                  : FloatFormat::F16;
  return widenToF32(p.data, count, format);
}

int32_t ProgramLowering::addF32Param(const qr_param &like,
                                     std::vector<float> values, int64_t n,
                                     int64_t k) {
  std::vector<uint8_t> bytes(values.size() * sizeof(float));
  memcpy(bytes.data(), values.data(), bytes.size());
  prog->buffers.push_back(std::move(bytes));
  qr_param out{};
  out.name = like.name;
  out.dtype = QR_DTYPE_F32;
  out.rank = 2;
  out.shape[0] = n;
  out.shape[1] = k;
  out.data = prog->buffers.back().data();
  int32_t index = prog->params.size();
  prog->tensorNames.push_back(like.name);
  prog->params.push_back(out);
  return index;
}

/// True if `v` is a weight the lowering computes once from parameters: a
/// parameter, or dequantize / smooth_weight / fake_quantize of such, where
/// no parameter is trainable (those are computed at run time, with
/// gradients).
static bool isConstantWeight(Value v) {
  Operation *def = v.getDefiningOp();
  if (auto get = dyn_cast_or_null<GetParamOp>(def))
    return !get.getTrainable();
  if (isa_and_nonnull<DequantizeOp>(def))
    return true;
  if (auto sw = dyn_cast_or_null<SmoothWeightOp>(def))
    return isConstantWeight(sw.getWeight()) && isConstantWeight(sw.getScale());
  if (auto fq = dyn_cast_or_null<FakeQuantizeOp>(def))
    return isConstantWeight(fq.getInput()) &&
           llvm::all_of(ValueRange{fq.getClipMax(), fq.getClipMin()},
                        [](Value c) { return !c || isConstantWeight(c); });
  return false;
}

/// A weight computed once, at lowering, in f32, with the formulas of
/// qrealign/Quant/Quantizer.h: `qrealign.dequantize` of packed levels,
/// `qrealign.smooth_weight`, or `qrealign.fake_quantize` (with its clipping
/// factors or static ranges) of a computed weight or a parameter. The
/// packed and fake-quantize forms of one quantization give the same
/// floats.
FailureOr<std::vector<float>> ProgramLowering::evalWeight(Value v) {
  Operation *op = v.getDefiningOp();
  if (isa_and_nonnull<GetParamOp>(op)) {
    FailureOr<int32_t> index = param(op, v);
    if (failed(index))
      return failure();
    int32_t dtype = prog->params[*index].dtype;
    if (dtype != QR_DTYPE_F32 && dtype != QR_DTYPE_F16 &&
        dtype != QR_DTYPE_BF16)
      return op->emitError("the engine computes weights from float "
                           "parameters");
    return floats(*index);
  }
  auto result = cast<RankedTensorType>(v.getType());
  if (result.getRank() != 2 || !result.hasStaticShape())
    return op->emitError("the engine computes 2-D weights of static shape");
  int64_t n = result.getDimSize(0), k = result.getDimSize(1);
  if (llvm::Error err = checkAllocation(uint64_t(n) * k * sizeof(float),
                                        "computing a weight"))
    return op->emitError(llvm::toString(std::move(err)));
  auto optionalParam = [&](Value x) -> FailureOr<int32_t> {
    return x ? param(op, x) : FailureOr<int32_t>(-1);
  };
  auto span = [&](int32_t index, auto *type) {
    using T = std::remove_pointer_t<decltype(type)>;
    const qr_param &p = prog->params[index];
    return ArrayRef(static_cast<const T *>(p.data), p.shape[0] * p.shape[1]);
  };
  if (auto dq = dyn_cast<DequantizeOp>(op)) {
    FailureOr<int32_t> packed = param(op, dq.getPacked());
    FailureOr<int32_t> scale = param(op, dq.getScale());
    FailureOr<int32_t> zero = optionalParam(dq.getZeroPoint());
    if (failed(packed) || failed(scale) || failed(zero))
      return failure();
    const qr_param &pp = prog->params[*packed], &sp = prog->params[*scale];
    int bits = dq.getBits();
    std::vector<int8_t> q, zeroWords;
    ArrayRef<int8_t> zeros;
    if (dq.isWordPacked()) {
      // compressed-tensors' words (the verifier checked the shapes).
      q = unpackInt32(span(*packed, (int32_t *)nullptr), n, k, bits,
                      /*alongRows=*/false);
      if (*zero >= 0)
        zeros = zeroWords =
            unpackInt32(span(*zero, (int32_t *)nullptr), sp.shape[0],
                        sp.shape[1], bits, /*alongRows=*/true);
    } else {
      LevelStorage storage =
          dq.isNibblePacked() ? LevelStorage::Nibbles : LevelStorage::Bytes;
      int64_t packedBytes = n * k / (storage == LevelStorage::Nibbles ? 2 : 1);
      q = unpackWeight(
          ArrayRef(static_cast<const uint8_t *>(pp.data), packedBytes), n, k,
          storage);
      // A byte may hold any value, and a nibble more than a 2- or 3-bit
      // level.
      if (std::optional<size_t> bad = findLevelOutOfRange(q, bits))
        return dq.emitError("level ")
               << int(q[*bad]) << " of row " << *bad / k << ", column "
               << *bad % k << " is outside the range of " << bits
               << "-bit levels";
      if (*zero >= 0)
        zeros = span(*zero, (int8_t *)nullptr);
      if (std::optional<size_t> bad = findLevelOutOfRange(zeros, bits))
        return dq.emitError("zero point ")
               << int(zeros[*bad]) << " is outside the range of " << bits
               << "-bit levels";
    }
    // Scales of any float type (compressed-tensors stores the model's).
    return dequantizeWeight(q, n, k, floats(*scale), zeros, sp.shape[0],
                            sp.shape[1]);
  }
  if (auto sw = dyn_cast<SmoothWeightOp>(op)) {
    FailureOr<std::vector<float>> w = evalWeight(sw.getWeight());
    FailureOr<int32_t> scale = param(op, sw.getScale());
    if (failed(w) || failed(scale))
      return failure();
    scaleColumns(*w, n, k, floats(*scale));
    return w;
  }
  auto fq = cast<FakeQuantizeOp>(op);
  FailureOr<std::vector<float>> w = evalWeight(fq.getInput());
  FailureOr<int32_t> scale = optionalParam(fq.getScale());
  FailureOr<int32_t> zero = optionalParam(fq.getZeroPoint());
  FailureOr<int32_t> clipMax = optionalParam(fq.getClipMax());
  FailureOr<int32_t> clipMin = optionalParam(fq.getClipMin());
  if (failed(w) || failed(scale) || failed(zero) || failed(clipMax) ||
      failed(clipMin))
    return failure();
  int bits = fq.getBits();
  std::vector<int8_t> q;
  std::vector<float> scales;
  std::vector<int8_t> zeros;
  int64_t scaleRows, groups;
  if (*scale >= 0) {
    const qr_param &sp = prog->params[*scale];
    scaleRows = sp.shape[0];
    groups = sp.shape[1];
    scales = span(*scale, (float *)nullptr).vec();
    if (*zero >= 0)
      zeros = span(*zero, (int8_t *)nullptr).vec();
    q = quantizeOnGrid(*w, n, k, bits, scales, zeros, scaleRows, groups);
  } else {
    WeightQuantSpec spec;
    spec.bits = bits;
    spec.symmetric = fq.getSymmetric();
    spec.groupSize =
        getRangeGroupSize(fq.getGranularity(), fq.getGroupSize().value_or(0));
    std::vector<float> cmax, cmin;
    if (*clipMax >= 0)
      cmax = floats(*clipMax);
    if (*clipMin >= 0)
      cmin = floats(*clipMin);
    spec.clipMax = cmax;
    spec.clipMin = cmin;
    QuantizedWeight r = quantizeWeight(*w, n, k, spec);
    q = std::move(r.q);
    scales = std::move(r.scale);
    zeros = std::move(r.zeroPoint);
    scaleRows = r.scaleRows;
    groups = r.groups;
  }
  return dequantizeWeight(q, n, k, scales, zeros, scaleRows, groups);
}

/// The parameter a linear reads as its weight: a parameter, or one computed
/// once by evalWeight (named after the parameter it starts from).
FailureOr<int32_t> ProgramLowering::weight(Operation *user, Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || isa<GetParamOp>(def) || !isConstantWeight(v))
    return param(user, v);
  auto it = foldedIndex.find(def);
  if (it != foldedIndex.end())
    return it->second;
  FailureOr<std::vector<float>> w = evalWeight(v);
  if (failed(w))
    return failure();
  Value root = v;
  while (!root.getDefiningOp<GetParamOp>())
    root = root.getDefiningOp()->getOperand(0); // levels, weight or input
  FailureOr<int32_t> origin = param(def, root);
  if (failed(origin))
    return failure();
  auto type = cast<RankedTensorType>(v.getType());
  return foldedIndex[def] = addF32Param(prog->params[*origin], std::move(*w),
                                        type.getDimSize(0), type.getDimSize(1));
}

FailureOr<int32_t> ProgramLowering::value(Operation *user, Value v) {
  auto it = values.find(v);
  // A parameter read as a value (the start of a weight computed at run
  // time): one instruction, at its first use.
  if (it == values.end())
    if (auto get = v.getDefiningOp<GetParamOp>()) {
      FailureOr<int32_t> index = param(user, v);
      if (failed(index))
        return failure();
      qr_instr in = newInstr(QR_OP_PARAM);
      in.params[0] = *index;
      in.output = define(v);
      prog->instrs.push_back(in);
      return in.output;
    }
  if (it == values.end())
    return user->emitError("the engine cannot compute this operand (produced "
                           "by an op it does not run)");
  return it->second;
}

static qr_quant toQuant(QuantSchemeAttr q) {
  qr_quant out{};
  out.w_bits = q.getWBits();
  out.a_bits = q.getABits();
  out.granularity = static_cast<int32_t>(q.getGranularity());
  out.group_size = q.getGroupSize();
  out.symmetric = q.getSymmetric();
  out.act_static = q.getAct() == ActQuantMode::Static;
  out.act_symmetric = q.getActSymmetric();
  return out;
}

namespace {
/// Where an operand of an op goes in its instruction: a value (`inputs[i]`),
/// a parameter (`params[i]`), or a weight (`params[i]`, possibly computed
/// once from parameters by evalWeight).
enum class Kind { Value, Param, Weight };
struct OperandRule {
  Kind kind;
  int slot;
  Value (*get)(Operation *); // null Value: an optional operand that is absent
};
/// How one op becomes one instruction: its opcode, where each operand goes,
/// and the scalar fields (or a check the engine needs) from its attributes.
struct OpRule {
  int32_t opcode;
  std::vector<OperandRule> operands;
  LogicalResult (*fields)(ProgramLowering &, Operation *, qr_instr &);
};

#define QR_OPERAND(KIND, SLOT, OP, GETTER)                                     \
  OperandRule {                                                                \
    Kind::KIND, SLOT,                                                          \
        [](Operation *op) -> Value { return cast<OP>(op).GETTER(); }           \
  }

static LogicalResult noFields(ProgramLowering &, Operation *, qr_instr &) {
  return success();
}
} // namespace

const llvm::DenseMap<TypeID, OpRule> &ProgramLowering::getOpRules() {
  static const llvm::DenseMap<TypeID, OpRule> rules = [] {
    llvm::DenseMap<TypeID, OpRule> r;
    r[TypeID::get<EmbeddingOp>()] = {
        QR_OP_EMBEDDING,
        {QR_OPERAND(Value, 0, EmbeddingOp, getIds),
         QR_OPERAND(Param, 0, EmbeddingOp, getTable)},
        noFields};
    r[TypeID::get<RMSNormOp>()] = {
        QR_OP_RMS_NORM,
        {QR_OPERAND(Value, 0, RMSNormOp, getInput),
         QR_OPERAND(Param, 0, RMSNormOp, getWeight)},
        [](ProgramLowering &, Operation *op, qr_instr &in) {
          in.f0 = cast<RMSNormOp>(op).getEpsilon().convertToDouble();
          return success();
        }};
    r[TypeID::get<LinearOp>()] = {
        QR_OP_LINEAR,
        {QR_OPERAND(Value, 0, LinearOp, getInput),
         QR_OPERAND(Weight, 0, LinearOp, getWeight),
         QR_OPERAND(Param, 1, LinearOp, getBias)},
        [](ProgramLowering &pl, Operation *op, qr_instr &in) {
          return pl.linearFields(cast<LinearOp>(op), in);
        }};
    r[TypeID::get<RopeOp>()] = {
        QR_OP_ROPE,
        {QR_OPERAND(Value, 0, RopeOp, getInput),
         QR_OPERAND(Value, 1, RopeOp, getPositions)},
        [](ProgramLowering &, Operation *op, qr_instr &in) {
          auto rope = cast<RopeOp>(op);
          in.i0 = rope.getHeadDim();
          in.i1 = rope.getStyle() == RopeStyle::Interleaved ? 1 : 0;
          in.f0 = rope.getTheta().convertToDouble();
          return success();
        }};
    r[TypeID::get<AttentionOp>()] = {
        QR_OP_ATTENTION,
        {QR_OPERAND(Value, 0, AttentionOp, getQuery),
         QR_OPERAND(Value, 1, AttentionOp, getKey),
         QR_OPERAND(Value, 2, AttentionOp, getValue),
         QR_OPERAND(Value, 3, AttentionOp, getMask)},
        [](ProgramLowering &, Operation *op, qr_instr &in) {
          auto at = cast<AttentionOp>(op);
          in.i0 = at.getNumHeads();
          in.i1 = at.getNumKvHeads();
          in.i2 = at.getHeadDim();
          in.f0 = at.getScale().convertToDouble();
          in.flags = at.getCausal() ? 1 : 0;
          return success();
        }};
    r[TypeID::get<SwiGLUOp>()] = {QR_OP_SWIGLU,
                                  {QR_OPERAND(Value, 0, SwiGLUOp, getGate),
                                   QR_OPERAND(Value, 1, SwiGLUOp, getUp)},
                                  noFields};
    r[TypeID::get<AddOp>()] = {QR_OP_ADD,
                               {QR_OPERAND(Value, 0, AddOp, getLhs),
                                QR_OPERAND(Value, 1, AddOp, getRhs)},
                               noFields};
    r[TypeID::get<SmoothOp>()] = {QR_OP_SMOOTH,
                                  {QR_OPERAND(Value, 0, SmoothOp, getInput),
                                   QR_OPERAND(Param, 0, SmoothOp, getScale)},
                                  noFields};
    r[TypeID::get<FakeQuantizeOp>()] = {
        QR_OP_FAKE_QUANT,
        {QR_OPERAND(Value, 0, FakeQuantizeOp, getInput),
         QR_OPERAND(Param, 0, FakeQuantizeOp, getScale),
         QR_OPERAND(Param, 1, FakeQuantizeOp, getZeroPoint),
         QR_OPERAND(Param, 2, FakeQuantizeOp, getClipMax),
         QR_OPERAND(Param, 3, FakeQuantizeOp, getClipMin)},
        [](ProgramLowering &, Operation *op, qr_instr &in) -> LogicalResult {
          auto fq = cast<FakeQuantizeOp>(op);
          // Clipping factors at run time: on a weight computed from a
          // trainable parameter (the verifier holds them to 2-D inputs).
          if (fq.getClipMax() && !fq.getRangeShape())
            return fq.emitError("the engine applies clipping factors to "
                                "2-D weights only");
          if (fq.getScale() && fq.getGranularity() != Granularity::PerTensor)
            return fq.emitError("the engine supports static ranges on "
                                "activations per tensor only");
          in.i0 = fq.getBits();
          in.i1 = getRangeGroupSize(fq.getGranularity(),
                                    fq.getGroupSize().value_or(0));
          in.flags = fq.getSymmetric() ? 1 : 0;
          return success();
        }};
    r[TypeID::get<SmoothWeightOp>()] = {
        QR_OP_SMOOTH_WEIGHT,
        {QR_OPERAND(Value, 0, SmoothWeightOp, getWeight),
         QR_OPERAND(Param, 0, SmoothWeightOp, getScale)},
        noFields};
    r[TypeID::get<GatherTokenOp>()] = {
        QR_OP_GATHER_TOKEN,
        {QR_OPERAND(Value, 0, GatherTokenOp, getInput),
         QR_OPERAND(Value, 1, GatherTokenOp, getIndex)},
        noFields};
    r[TypeID::get<SquaredErrorOp>()] = {
        QR_OP_SQUARED_ERROR,
        {QR_OPERAND(Value, 0, SquaredErrorOp, getLhs),
         QR_OPERAND(Value, 1, SquaredErrorOp, getRhs),
         QR_OPERAND(Value, 2, SquaredErrorOp, getWeight)},
        [](ProgramLowering &, Operation *op, qr_instr &in) {
          in.f0 = cast<SquaredErrorOp>(op).getCoefficient().convertToDouble();
          return success();
        }};
    r[TypeID::get<BoundaryLossOp>()] = {
        QR_OP_BOUNDARY_LOSS,
        {QR_OPERAND(Value, 0, BoundaryLossOp, getInput),
         QR_OPERAND(Param, 0, BoundaryLossOp, getProbeWeight),
         QR_OPERAND(Param, 1, BoundaryLossOp, getProbeBias),
         QR_OPERAND(Value, 1, BoundaryLossOp, getWeight)},
        [](ProgramLowering &, Operation *op, qr_instr &in) {
          auto loss = cast<BoundaryLossOp>(op);
          in.f0 = loss.getMargin().convertToDouble();
          in.f1 = loss.getCoefficient().convertToDouble();
          return success();
        }};
    return r;
  }();
  return rules;
}
#undef QR_OPERAND

LogicalResult ProgramLowering::lowerBlock(Block &block) {
  for (Operation &op : block) {
    // Parameters and weights computed from them are read where they are
    // used.
    if (isa<GetParamOp, DequantizeOp, YieldOp, func::ReturnOp>(op) ||
        (isa<FakeQuantizeOp, SmoothWeightOp>(op) &&
         isConstantWeight(op.getResult(0))))
      continue;
    if (auto layer = dyn_cast<LayerOp>(op)) {
      if (failed(lowerLayer(layer)))
        return failure();
      continue;
    }
    const auto &rules = getOpRules();
    auto rule = rules.find(op.getName().getTypeID());
    if (rule == rules.end())
      return op.emitError("the engine cannot run '")
             << op.getName() << "' operations";
    qr_instr in = newInstr(rule->second.opcode);
    for (const OperandRule &o : rule->second.operands) {
      Value v = o.get(&op);
      if (!v)
        continue;
      // A weight computed at run time (from a trainable parameter) is
      // the instruction's value input 1.
      if (o.kind == Kind::Weight && !isConstantWeight(v)) {
        FailureOr<int32_t> id = value(&op, v);
        if (failed(id))
          return failure();
        in.inputs[1] = *id;
        continue;
      }
      FailureOr<int32_t> id = o.kind == Kind::Value   ? value(&op, v)
                              : o.kind == Kind::Param ? param(&op, v)
                                                      : weight(&op, v);
      if (failed(id))
        return failure();
      (o.kind == Kind::Value ? in.inputs : in.params)[o.slot] = *id;
    }
    if (failed(rule->second.fields(*this, &op, in)))
      return failure();
    in.output = define(op.getResult(0));
    prog->instrs.push_back(in);
  }
  return success();
}

/// The linear's role and the part of its scheme the engine still applies.
LogicalResult ProgramLowering::linearFields(LinearOp l, qr_instr &in) {
  in.name = str(l.getName());
  QuantSchemeAttr q = l.getQuantAttr();
  if (!q)
    return success();
  // An operand that comes from a quantization op is already on its grid;
  // the engine applies the rest of the scheme (the convenience of
  // evaluating a scheme before any pass materializes it).
  bool inputQuantized = l.getInput().getDefiningOp<FakeQuantizeOp>();
  bool weightQuantized = isa_and_nonnull<DequantizeOp, FakeQuantizeOp>(
      l.getWeight().getDefiningOp());
  if (q.quantizesActivations() && q.getAct() == ActQuantMode::Static &&
      !inputQuantized)
    return l.emitError("act = static: the input must come from a "
                       "qrealign.fake_quantize with calibrated "
                       "ranges (scale and zero_point)");
  in.quant = toQuant(q);
  if (weightQuantized)
    in.quant.w_bits = 16;
  if (inputQuantized)
    in.quant.a_bits = 16;
  return success();
}

/// A layer's body, inlined, and its output as a hook point.
LogicalResult ProgramLowering::lowerLayer(LayerOp layer) {
  Block &body = layer.getBody().front();
  for (auto [arg, operand] :
       llvm::zip(body.getArguments(), layer.getInputs())) {
    FailureOr<int32_t> id = value(layer, operand);
    if (failed(id))
      return failure();
    values[arg] = *id;
  }
  int32_t outer = currentLayer;
  currentLayer = layer.getIndex();
  if (failed(lowerBlock(body)))
    return failure();
  auto yield = cast<YieldOp>(body.getTerminator());
  qr_instr in = newInstr(QR_OP_LAYER_END);
  FailureOr<int32_t> out = value(yield, yield.getValue());
  if (failed(out))
    return failure();
  in.inputs[0] = *out;
  in.i0 = layer.getIndex();
  currentLayer = outer;
  ++numLayers;
  in.output = define(layer.getResult());
  prog->instrs.push_back(in);
  return success();
}

/// @forward's signature, checked: the model interface of the engine.
LogicalResult ProgramLowering::lowerModelInterface(func::FuncOp forward) {
  FunctionType type = forward.getFunctionType();
  auto is2D = [](Type t, auto pred) {
    auto tt = dyn_cast<RankedTensorType>(t);
    return tt && tt.getRank() == 2 && pred(tt.getElementType());
  };
  auto logits = type.getNumResults() == 1
                    ? dyn_cast<RankedTensorType>(type.getResult(0))
                    : RankedTensorType();
  if (type.getNumInputs() != 3 ||
      !is2D(type.getInput(0), [](Type e) { return e.isInteger(); }) ||
      !is2D(type.getInput(1), [](Type e) { return e.isInteger(); }) ||
      !is2D(type.getInput(2), [](Type e) { return e.isInteger(1); }) ||
      !logits || logits.getRank() != 3 || logits.isDynamicDim(2))
    return forward.emitError(
        "@forward must have type (tensor<?x?xi64>, tensor<?x?xi64>, "
        "tensor<?x?xi1>) -> tensor<?x?xVxf32>");
  prog->program.vocab_size = logits.getDimSize(2);
  return success();
}

/// Any other function: its arguments and results are the program's inputs
/// and outputs, of element types the engine holds and rank <= 4.
LogicalResult ProgramLowering::lowerFunctionInterface(func::FuncOp func) {
  FunctionType type = func.getFunctionType();
  for (auto [what, types] : {std::pair{"argument", type.getInputs()},
                             std::pair{"result", type.getResults()}})
    for (auto [i, t] : llvm::enumerate(types)) {
      auto tt = dyn_cast<RankedTensorType>(t);
      if (!tt || tt.getRank() > 4 || !getParamDType(tt.getElementType()))
        return func.emitError("the engine runs functions of ranked tensors "
                              "(rank <= 4, float or integer elements); ")
               << what << " " << i << " is " << t;
    }
  if (type.getNumResults() == 0)
    return func.emitError("the engine runs functions with results");
  return success();
}

FailureOr<std::unique_ptr<Program>> ProgramLowering::run(StringRef function) {
  auto func = module.lookupSymbol<func::FuncOp>(function);
  bool isModel = function == "forward";
  if (!func || func.isExternal()) {
    if (isModel)
      return module.emitError("the engine needs a func.func @forward(ids, "
                              "positions, mask) -> logits");
    return module.emitError("no func.func @") << function << " with a body";
  }
  if (failed(isModel ? lowerModelInterface(func)
                     : lowerFunctionInterface(func)))
    return failure();
  loweredFunc = func;
  if (failed(lowerParams()))
    return failure();
  Block &entry = func.getBody().front();
  for (BlockArgument arg : entry.getArguments())
    prog->inputValues.push_back(define(arg));
  prog->parametersOnly = parametersOnly;
  if (!parametersOnly) {
    if (failed(lowerBlock(entry)))
      return failure();
    auto ret = cast<func::ReturnOp>(entry.getTerminator());
    for (Value v : ret.getOperands()) {
      FailureOr<int32_t> out = value(ret, v);
      if (failed(out))
        return failure();
      prog->outputValues.push_back(*out);
    }
  }

  int64_t hidden = 0;
  for (const qr_instr &in : prog->instrs)
    if (in.opcode == QR_OP_EMBEDDING)
      hidden = prog->params[in.params[0]].shape[1];
  if (!isModel && !prog->inputValues.empty())
    if (auto t = dyn_cast<RankedTensorType>(entry.getArgument(0).getType()))
      if (t.getRank() >= 1 && !t.isDynamicDim(t.getRank() - 1))
        hidden = t.getShape().back();

  qr_program &p = prog->program;
  p.abi_version = QR_ENGINE_ABI_VERSION;
  p.num_params = prog->params.size();
  p.params = prog->params.data();
  p.num_instrs = prog->instrs.size();
  p.instrs = prog->instrs.data();
  p.num_values = numValues;
  p.ids_value = isModel ? prog->inputValues[0] : -1;
  p.positions_value = isModel ? prog->inputValues[1] : -1;
  p.mask_value = isModel ? prog->inputValues[2] : -1;
  p.logits_value =
      isModel && !prog->outputValues.empty() ? prog->outputValues[0] : -1;
  p.num_inputs = prog->inputValues.size();
  p.inputs = prog->inputValues.data();
  p.num_outputs = prog->outputValues.size();
  p.outputs = prog->outputValues.data();
  p.hidden_size = hidden;
  p.num_layers = numLayers;

  ModelInfo &info = prog->info;
  auto getStr = [&](StringRef name) -> std::string {
    if (auto a = module->getAttrOfType<StringAttr>(name))
      return a.getValue().str();
    return "";
  };
  info.modelType = getStr("qrealign.model_type");
  info.tokenizerPath = resolve(getStr("qrealign.tokenizer"), env.inputDir);
  info.chatTemplate = getStr("qrealign.chat_template");
  if (info.chatTemplate.empty())
    info.chatTemplate = "none";
  if (auto a = module->getAttrOfType<IntegerAttr>("qrealign.bos_token_id"))
    info.bosTokenId = a.getInt();
  if (auto a = module->getAttrOfType<ArrayAttr>("qrealign.eos_token_ids"))
    for (Attribute e : a)
      info.eosTokenIds.push_back(cast<IntegerAttr>(e).getInt());
  if (auto a = module->getAttrOfType<IntegerAttr>("qrealign.max_positions"))
    info.maxPositions = a.getInt();
  // The engine's attention is full causal attention, which equals
  // sliding-window attention (Mistral) exactly while the sequence fits in
  // the window: the usable context is the smaller of the two, so a longer
  // sequence is refused rather than attended to without the window.
  if (auto a = module->getAttrOfType<IntegerAttr>("qrealign.sliding_window")) {
    info.slidingWindow = a.getInt();
    if (info.maxPositions <= 0 || info.slidingWindow < info.maxPositions)
      info.maxPositions = info.slidingWindow;
  }
  return std::move(prog);
}

static StringRef opcodeName(int32_t op) {
  switch (op) {
  case QR_OP_EMBEDDING:
    return "embedding";
  case QR_OP_RMS_NORM:
    return "rms_norm";
  case QR_OP_LINEAR:
    return "linear";
  case QR_OP_ROPE:
    return "rope";
  case QR_OP_ATTENTION:
    return "attention";
  case QR_OP_SWIGLU:
    return "swiglu";
  case QR_OP_ADD:
    return "add";
  case QR_OP_LAYER_END:
    return "layer_end";
  case QR_OP_FAKE_QUANT:
    return "fake_quant";
  case QR_OP_SMOOTH:
    return "smooth";
  case QR_OP_PARAM:
    return "param";
  case QR_OP_SMOOTH_WEIGHT:
    return "smooth_weight";
  case QR_OP_GATHER_TOKEN:
    return "gather_token";
  case QR_OP_SQUARED_ERROR:
    return "squared_error";
  case QR_OP_BOUNDARY_LOSS:
    return "boundary_loss";
  }
  return "?";
}

static StringRef dtypeName(int32_t d) {
  static const char *names[] = {"f32", "f16", "bf16", "i8",
                                "u8",  "i32", "i64",  "bool"};
  return d >= 0 && d < 8 ? names[d] : "?";
}

static size_t dtypeBytes(int32_t d) {
  static const size_t bytes[] = {4, 2, 2, 1, 1, 4, 8, 1};
  return d >= 0 && d < 8 ? bytes[d] : 0;
}

void printProgram(const Program &program, llvm::raw_ostream &os) {
  const qr_program &p = program.get();
  os << "program abi " << p.abi_version << ": " << p.num_params << " params, "
     << p.num_instrs << " instrs, " << p.num_values << " values; ids %"
     << p.ids_value << " positions %" << p.positions_value << " mask %"
     << p.mask_value << " logits %" << p.logits_value << "; hidden "
     << p.hidden_size << " vocab " << p.vocab_size << " layers " << p.num_layers
     << "\n";
  if (p.ids_value < 0) {
    os << "inputs";
    for (int i = 0; i < p.num_inputs; ++i)
      os << " %" << p.inputs[i];
    os << "; outputs";
    for (int i = 0; i < p.num_outputs; ++i)
      os << " %" << p.outputs[i];
    os << "\n";
  }
  for (int i = 0; i < p.num_params; ++i) {
    const qr_param &q = p.params[i];
    size_t bytes = dtypeBytes(q.dtype);
    os << "param " << i << " \"" << program.getTensorName(i) << "\" "
       << dtypeName(q.dtype) << " [";
    for (int r = 0; r < q.rank; ++r) {
      os << (r ? ", " : "") << q.shape[r];
      bytes *= q.shape[r];
    }
    // FNV-1a over the data: equal data, equal checksum.
    uint64_t h = 1469598103934665603ull;
    const auto *data = static_cast<const uint8_t *>(q.data);
    for (size_t b = 0; b < bytes; ++b)
      h = (h ^ data[b]) * 1099511628211ull;
    os << "] " << bytes << " bytes fnv1a " << llvm::format_hex(h, 18)
       << (q.flags & QR_PARAM_TRAINABLE ? " trainable" : "") << "\n";
  }
  for (int i = 0; i < p.num_instrs; ++i) {
    const qr_instr &in = p.instrs[i];
    os << "%" << in.output << " = " << opcodeName(in.opcode) << "(";
    bool first = true;
    for (int32_t v : in.inputs)
      if (v >= 0) {
        os << (first ? "" : ", ") << "%" << v;
        first = false;
      }
    os << ")";
    // Slots 2 and 3 (clipping logits) are named, 0 and 1 are not.
    for (auto [slot, q] : llvm::enumerate(in.params))
      if (q >= 0)
        os << (slot >= 2 ? " param[" + std::to_string(slot) + "] " : " param ")
           << q;
    if (in.name && *in.name)
      os << " \"" << in.name << "\"";
    os << " layer " << in.layer << " i " << in.i0 << " " << in.i1 << " "
       << in.i2 << " f " << in.f0;
    if (in.f1 != 0)
      os << " " << in.f1;
    os << " flags " << in.flags;
    if (in.opcode == QR_OP_LINEAR)
      os << " quant w" << in.quant.w_bits << " a" << in.quant.a_bits << " gran "
         << in.quant.granularity << " group " << in.quant.group_size << " sym "
         << in.quant.symmetric << " static " << in.quant.act_static
         << " act-sym " << in.quant.act_symmetric;
    os << "\n";
  }
}

FailureOr<std::unique_ptr<Program>> lowerToProgram(ModuleOp module,
                                                   const ParamEnvironment &env,
                                                   StringRef function,
                                                   bool parametersOnly) {
  return ProgramLowering(module, env, parametersOnly).run(function);
}
} // namespace qrealign
