//===- EngineTest.cpp - The libtorch engine through its C++ handle --------===//
//
// Properties that must hold whatever the weights: the KV cache changes
// nothing (cached greedy decoding == argmax of full recomputation), padding
// changes nothing (a sequence alone == the same sequence in a padded batch),
// 16-bit "quantization" is the identity while 4-bit changes the logits, and
// bad input is an error, not a crash. Skipped when the engine is not built.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Engine/Engine.h"
#include "qrealign/Dialect/QRealign/IR/QRealign.h"
#include "qrealign/Dialect/QRealign/Transforms/Passes.h"
#include "qrealign/Engine/Program.h"
#include "qrealign/Import/Import.h"
#include "qrealign/Quant/Quantizer.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"
#include "gtest/gtest.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <random>

using namespace qrealign;

namespace {
/// Writes a tiny qwen2-shaped model (GQA, q/k/v bias, tied embeddings).
std::string writeModel() {
  llvm::SmallString<128> dir;
  EXPECT_FALSE(llvm::sys::fs::createUniqueDirectory("qr-engine", dir));
  const int64_t D = 16, L = 2, H = 4, KV = 2, HD = 4, F = 32, V = 48;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.f, 0.3f);
  std::vector<std::vector<float>> store;
  std::vector<TensorToWrite> tensors;
  auto add = [&](std::string name, llvm::SmallVector<int64_t, 4> shape,
                 bool norm = false) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::vector<float> v(n);
    for (float &x : v)
      x = norm ? 1.f + 0.1f * normal(rng) : normal(rng);
    store.push_back(std::move(v));
    const auto &s = store.back();
    tensors.push_back(
        {name, DType::F32, shape,
         llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(s.data()),
                                 s.size() * 4)});
  };
  store.reserve(64);
  add("model.embed_tokens.weight", {V, D});
  for (int i = 0; i < L; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    add(p + "input_layernorm.weight", {D}, true);
    add(p + "self_attn.q_proj.weight", {H * HD, D});
    add(p + "self_attn.q_proj.bias", {H * HD});
    add(p + "self_attn.k_proj.weight", {KV * HD, D});
    add(p + "self_attn.k_proj.bias", {KV * HD});
    add(p + "self_attn.v_proj.weight", {KV * HD, D});
    add(p + "self_attn.v_proj.bias", {KV * HD});
    add(p + "self_attn.o_proj.weight", {D, H * HD});
    add(p + "post_attention_layernorm.weight", {D}, true);
    add(p + "mlp.gate_proj.weight", {F, D});
    add(p + "mlp.up_proj.weight", {F, D});
    add(p + "mlp.down_proj.weight", {D, F});
  }
  add("model.norm.weight", {D}, true);
  EXPECT_FALSE(
      bool(writeSafeTensors(std::string(dir) + "/model.safetensors", tensors)));
  std::error_code ec;
  llvm::raw_fd_ostream cfg(std::string(dir) + "/config.json", ec);
  cfg << R"({"model_type": "qwen2", "hidden_size": 16, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2,
    "intermediate_size": 32, "vocab_size": 48, "rms_norm_eps": 1e-6,
    "rope_theta": 10000.0, "tie_word_embeddings": true})";
  return std::string(dir);
}

class EngineTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() { dir = new std::string(writeModel()); }
  static void TearDownTestSuite() {
    llvm::sys::fs::remove_directories(*dir);
    delete dir;
  }

  /// Imports the model, applies `quant` to every linear (if given) and
  /// creates an engine; skips the test when the library is absent.
  /// With `packed`, qrealign-quantize-weights then materializes the
  /// weights into packed storage in a scope file of its own.
  std::unique_ptr<Engine>
  load(mlir::qrealign::QuantSchemeAttr (*quant)(mlir::MLIRContext &) = nullptr,
       bool packed = false) {
    auto model = openModel(*dir);
    EXPECT_TRUE(bool(model));
    auto module = importModel(context, *model);
    EXPECT_TRUE(bool(module));
    if (quant)
      (**module)->walk([&](mlir::qrealign::LinearOp op) {
        op.setQuantAttr(quant(context));
      });
    mlir::qrealign::ParamEnvironment env;
    if (packed) {
      env.inputDir = env.outputDir = *dir;
      context.getOrLoadDialect<mlir::qrealign::QRealignDialect>()
          ->setParamEnvironment(env);
      mlir::PassManager pm(&context);
      mlir::qrealign::QRealignQuantizeWeightsPassOptions options;
      options.file =
          *dir + "/packed-" + std::to_string(numPacked++) + ".safetensors";
      pm.addPass(mlir::qrealign::createQRealignQuantizeWeightsPass(options));
      EXPECT_TRUE(mlir::succeeded(pm.run(**module)));
    }
    auto program = lowerToProgram(**module, env);
    EXPECT_TRUE(mlir::succeeded(program));
    programs.push_back(std::move(*program));
    auto engine = Engine::create(*programs.back(), EngineOptions());
    if (!engine) {
      std::string msg = llvm::toString(engine.takeError());
      if (msg.find("cannot load the execution engine") != std::string::npos)
        return nullptr;
      ADD_FAILURE() << msg;
      return nullptr;
    }
    return std::move(*engine);
  }

  static std::string *dir;
  mlir::MLIRContext context{[] {
    mlir::DialectRegistry r;
    registerImportDialects(r);
    return r;
  }()};
  std::vector<std::unique_ptr<Program>> programs;
  int numPacked = 0;
};
std::string *EngineTest::dir = nullptr;

#define LOAD_OR_SKIP(var, ...)                                                 \
  auto var = load(__VA_ARGS__);                                                \
  if (!var)                                                                    \
    GTEST_SKIP() << "libQRealignEngine.so not built";

int64_t argmax(const std::vector<float> &v) {
  return std::max_element(v.begin(), v.end()) - v.begin();
}

TEST_F(EngineTest, KVCacheMatchesFullRecomputation) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> seq = {1, 17, 5, 30};
  auto gen = engine->generate({seq}, 10, {});
  ASSERT_TRUE(bool(gen)) << llvm::toString(gen.takeError());
  ASSERT_EQ(gen->tokens[0].size(), 10u);
  for (int64_t expected : gen->tokens[0]) {
    auto logits = engine->forward({seq});
    ASSERT_TRUE(bool(logits));
    EXPECT_EQ(argmax((*logits)[0]), expected);
    seq.push_back(expected);
  }
}

TEST_F(EngineTest, PaddingIsInvisible) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> shortSeq = {3, 9}, longSeq = {1, 2, 3, 4, 5, 6, 7};
  auto alone = engine->forward({shortSeq}, /*allPositions=*/true);
  auto batched = engine->forward({longSeq, shortSeq}, /*allPositions=*/true);
  ASSERT_TRUE(bool(alone) && bool(batched));
  // Rows: 7 of the long sequence, then the 2 of the short one.
  ASSERT_EQ(batched->size(), 9u);
  for (int r = 0; r < 2; ++r)
    for (size_t v = 0; v < (*alone)[r].size(); ++v)
      EXPECT_NEAR((*alone)[r][v], (*batched)[7 + r][v], 1e-5);
  auto capA = engine->capture({shortSeq}, {0, 1}, {-1});
  auto capB = engine->capture({longSeq, shortSeq}, {1, 0}, {0, -1});
  ASSERT_TRUE(bool(capA) && bool(capB));
  for (int64_t d = 0; d < engine->getHiddenSize(); ++d) {
    EXPECT_NEAR((*capA)[0][0][d], (*capB)[1][1][d], 1e-5); // layer 0
    EXPECT_NEAR((*capA)[0][1][d], (*capB)[1][0][d], 1e-5); // layer 1
  }
  // Layers differ from each other (the hook is not a copy of one value).
  EXPECT_NE((*capA)[0][0], (*capA)[0][1]);
}

// Layer num_layers is the LM head's input: the tied head (the embedding
// table) applied to it gives the forward pass's logits.
TEST_F(EngineTest, FinalNormCaptureIsTheHeadInput) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> a = {1, 2, 3, 4, 5}, b = {7, 8};
  int32_t final = engine->getNumLayers();
  ASSERT_EQ(final, 2);
  auto cap = engine->capture({a, b}, {final, 1}, {-1, -1});
  auto logits = engine->forward({a, b});
  auto table = engine->readParam(0); // model.embed_tokens.weight [48, 16]
  ASSERT_TRUE(bool(cap) && bool(logits) && bool(table));
  int64_t D = engine->getHiddenSize(), V = engine->getVocabSize();
  for (int r = 0; r < 2; ++r) {
    for (int64_t v = 0; v < V; ++v) {
      double dot = 0;
      for (int64_t k = 0; k < D; ++k)
        dot += (*table)[v * D + k] * (*cap)[r][0][k];
      EXPECT_NEAR(dot, (*logits)[r][v], 1e-4) << r << " " << v;
    }
    // Not the last layer's output: the final norm lies between.
    EXPECT_NE((*cap)[r][0], (*cap)[r][1]);
  }
  auto bad = engine->capture({a}, {final + 1}, {-1});
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("the LM head's input"),
            std::string::npos);
}

// The head on the last layer's captured state is the model's own output;
// on an earlier layer's state (the logit lens) it is something else.
TEST_F(EngineTest, HeadOfTheLastLayerIsTheModel) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> a = {1, 2, 3, 4, 5}, b = {7, 8};
  int32_t last = engine->getNumLayers() - 1;
  auto cap = engine->capture({a, b}, {last, 0}, {-1, -1});
  auto logits = engine->forward({a, b});
  ASSERT_TRUE(bool(cap) && bool(logits));
  auto lens = engine->head({(*cap)[0][0], (*cap)[1][0], (*cap)[0][1]});
  ASSERT_TRUE(bool(lens)) << llvm::toString(lens.takeError());
  ASSERT_EQ(lens->size(), 3u);
  for (int r = 0; r < 2; ++r)
    for (size_t v = 0; v < (*logits)[r].size(); ++v)
      EXPECT_NEAR((*lens)[r][v], (*logits)[r][v], 1e-5) << r << " " << v;
  EXPECT_NE((*lens)[2], (*lens)[0]);
  auto bad = engine->head({std::vector<float>(3)});
  ASSERT_FALSE(bool(bad));
  EXPECT_NE(llvm::toString(bad.takeError()).find("hidden size"),
            std::string::npos);
}

// Patching a layer with the state it already has changes nothing, for
// sequences of different lengths (left padding). Patching the last layer
// with some state v makes the first token argmax(head(v)), and decoding
// then continues as from the prompt followed by that token.
TEST_F(EngineTest, PatchReplacesTheStateDuringPrefill) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> a = {1, 17, 5, 30, 2}, b = {9, 4};
  auto plain = engine->generate({a, b}, 6, {});
  auto cap = engine->capture({a, b}, {0, 1}, {-1, -1});
  ASSERT_TRUE(bool(plain) && bool(cap));
  Engine::Patch same{0, {(*cap)[0][0], (*cap)[1][0]}};
  auto patched = engine->generate({a, b}, 6, {}, &same);
  ASSERT_TRUE(bool(patched)) << llvm::toString(patched.takeError());
  EXPECT_EQ(patched->tokens, plain->tokens);

  // Swap the sequences' last-layer states.
  Engine::Patch swapped{1, {(*cap)[1][1], (*cap)[0][1]}};
  auto gen = engine->generate({a, b}, 6, {}, &swapped);
  auto lens = engine->head(swapped.values);
  ASSERT_TRUE(bool(gen) && bool(lens));
  for (int r = 0; r < 2; ++r) {
    const std::vector<int64_t> &t = gen->tokens[r];
    ASSERT_EQ(t.size(), 6u);
    EXPECT_EQ(t[0], argmax((*lens)[r])) << r;
    std::vector<int64_t> prompt = r ? b : a;
    prompt.push_back(t[0]);
    auto rest = engine->generate({prompt}, 5, {});
    ASSERT_TRUE(bool(rest));
    EXPECT_EQ(std::vector<int64_t>(t.begin() + 1, t.end()), rest->tokens[0])
        << r;
  }
  EXPECT_NE(gen->tokens, plain->tokens);

  Engine::Patch bad{engine->getNumLayers(), same.values};
  auto err = engine->generate({a, b}, 2, {}, &bad);
  ASSERT_FALSE(bool(err));
  EXPECT_NE(llvm::toString(err.takeError()).find("patch layer"),
            std::string::npos);
  Engine::Patch few{0, {(*cap)[0][0]}};
  auto err2 = engine->generate({a, b}, 2, {}, &few);
  ASSERT_FALSE(bool(err2));
  EXPECT_NE(llvm::toString(err2.takeError()).find("one state per sequence"),
            std::string::npos);
}

// The LM head runs at the last position only when only that is asked for;
// the logits are those of the all-positions pass.
TEST_F(EngineTest, LastTokenLogitsMatchAllPositions) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> a = {1, 2, 3, 4, 5, 6, 7}, b = {3, 9};
  auto last = engine->forward({a, b});
  auto all = engine->forward({a, b}, /*allPositions=*/true);
  ASSERT_TRUE(bool(last) && bool(all));
  ASSERT_EQ(last->size(), 2u);
  ASSERT_EQ(all->size(), 9u);
  for (size_t v = 0; v < (*last)[0].size(); ++v) {
    EXPECT_NEAR((*last)[0][v], (*all)[6][v], 1e-5) << v;
    EXPECT_NEAR((*last)[1][v], (*all)[8][v], 1e-5) << v;
  }
  EXPECT_NE((*last)[0], (*last)[1]);
}

TEST_F(EngineTest, FakeQuantization) {
  LOAD_OR_SKIP(fp);
  LOAD_OR_SKIP(w16, [](mlir::MLIRContext &c) {
    return mlir::qrealign::QuantSchemeAttr::get(
        &c, 16, 16, mlir::qrealign::Granularity::PerChannel, 0, false,
        mlir::qrealign::ActQuantMode::Dynamic);
  });
  LOAD_OR_SKIP(w8, [](mlir::MLIRContext &c) {
    return mlir::qrealign::QuantSchemeAttr::get(
        &c, 8, 16, mlir::qrealign::Granularity::PerChannel, 0, false,
        mlir::qrealign::ActQuantMode::Dynamic);
  });
  LOAD_OR_SKIP(w2, [](mlir::MLIRContext &c) {
    return mlir::qrealign::QuantSchemeAttr::get(
        &c, 2, 16, mlir::qrealign::Granularity::PerGroup, 8, true,
        mlir::qrealign::ActQuantMode::Dynamic);
  });
  std::vector<int64_t> seq = {1, 4, 9, 16, 25};
  auto maxDiff = [&](Engine &e) {
    auto a = fp->forward({seq}), b = e.forward({seq});
    EXPECT_TRUE(bool(a) && bool(b));
    float m = 0;
    for (size_t v = 0; v < (*a)[0].size(); ++v)
      m = std::max(m, std::abs((*a)[0][v] - (*b)[0][v]));
    return m;
  };
  float d16 = maxDiff(*w16), d8 = maxDiff(*w8), d2 = maxDiff(*w2);
  EXPECT_EQ(d16, 0.f);
  EXPECT_GT(d8, 0.f);
  EXPECT_LT(d8, 0.1f);
  EXPECT_GT(d2, 10 * d8);
}

// The two forms of a quantized weight, fake-quantize (the engine's min-max
// quantize-dequantize of the float weight) and packed storage with scales
// (qrealign-quantize-weights, then qrealign.dequantize), give the same
// logits for every granularity, symmetric and asymmetric, 8 and 4 bits.
TEST_F(EngineTest, FakeQuantAndPackedFormsAgree) {
  using mlir::qrealign::ActQuantMode;
  using mlir::qrealign::Granularity;
  using mlir::qrealign::QuantSchemeAttr;
  using Scheme = QuantSchemeAttr (*)(mlir::MLIRContext &);
  const Scheme schemes[] = {
      [](mlir::MLIRContext &c) {
        return QuantSchemeAttr::get(&c, 4, 16, Granularity::PerGroup, 8, false,
                                    ActQuantMode::Dynamic);
      },
      [](mlir::MLIRContext &c) {
        return QuantSchemeAttr::get(&c, 4, 8, Granularity::PerChannel, 0, true,
                                    ActQuantMode::Dynamic);
      },
      [](mlir::MLIRContext &c) {
        return QuantSchemeAttr::get(&c, 8, 16, Granularity::PerTensor, 0, false,
                                    ActQuantMode::Dynamic);
      },
      [](mlir::MLIRContext &c) {
        return QuantSchemeAttr::get(&c, 3, 16, Granularity::PerGroup, 8, true,
                                    ActQuantMode::Dynamic);
      },
  };
  std::vector<int64_t> seq = {1, 4, 9, 16, 25, 36};
  LOAD_OR_SKIP(fp);
  auto reference = fp->forward({seq});
  ASSERT_TRUE(bool(reference));
  for (Scheme scheme : schemes) {
    LOAD_OR_SKIP(fake, scheme);
    LOAD_OR_SKIP(packed, scheme, /*packed=*/true);
    auto a = fake->forward({seq}), b = packed->forward({seq});
    ASSERT_TRUE(bool(a) && bool(b));
    float worst = 0, moved = 0;
    for (size_t v = 0; v < (*a)[0].size(); ++v) {
      float x = (*a)[0][v], y = (*b)[0][v];
      worst = std::max(worst, std::abs(x - y) / std::max(std::abs(x), 1e-3f));
      moved = std::max(moved, std::abs(x - (*reference)[0][v]));
    }
    EXPECT_LE(worst, 1e-5f) << scheme(context).getShortName();
    EXPECT_GT(moved, 0.f) << scheme(context).getShortName();
  }
}

// Lowered parameters-only (the compiled backend's sessions), a packed model
// keeps its stored parameters, loaded and checked, and computes no weight
// from them: the full program holds a dequantized f32 copy of every packed
// weight besides. The engine refuses such a program.
TEST_F(EngineTest, ParametersOnlyProgramsHoldTheStoredParameters) {
  auto model = openModel(*dir);
  ASSERT_TRUE(bool(model));
  auto module = importModel(context, *model);
  ASSERT_TRUE(bool(module));
  (**module)->walk([&](mlir::qrealign::LinearOp op) {
    op.setQuantAttr(mlir::qrealign::QuantSchemeAttr::get(
        &context, 4, 16, mlir::qrealign::Granularity::PerGroup, 8, false,
        mlir::qrealign::ActQuantMode::Dynamic));
  });
  mlir::qrealign::ParamEnvironment env;
  env.inputDir = env.outputDir = *dir;
  context.getOrLoadDialect<mlir::qrealign::QRealignDialect>()
      ->setParamEnvironment(env);
  mlir::PassManager pm(&context);
  mlir::qrealign::QRealignQuantizeWeightsPassOptions options;
  options.file = *dir + "/parameters-only.safetensors";
  pm.addPass(mlir::qrealign::createQRealignQuantizeWeightsPass(options));
  ASSERT_TRUE(mlir::succeeded(pm.run(**module)));
  size_t declared = 0, packed = 0;
  for (auto p : (**module).getOps<mlir::qrealign::ParamOp>()) {
    ++declared;
    packed += p.getTensorType().getElementType().isUnsignedInteger(8);
  }
  ASSERT_GT(packed, 0u);

  auto full = lowerToProgram(**module, env);
  auto only = lowerToProgram(**module, env, "forward", /*parametersOnly=*/true);
  ASSERT_TRUE(mlir::succeeded(full) && mlir::succeeded(only));
  EXPECT_FALSE((*full)->isParametersOnly());
  EXPECT_TRUE((*only)->isParametersOnly());
  EXPECT_GT((*full)->get().num_instrs, 0);
  EXPECT_EQ((*only)->get().num_instrs, 0);
  EXPECT_EQ(size_t((*only)->get().num_params), declared);
  EXPECT_EQ(size_t((*full)->get().num_params), declared + packed);
  EXPECT_EQ((*only)->getModelInfo().modelType,
            (*full)->getModelInfo().modelType);
  auto engine = Engine::create(**only, EngineOptions());
  ASSERT_FALSE(bool(engine));
  EXPECT_NE(llvm::toString(engine.takeError()).find("parameters-only"),
            std::string::npos);
}

// Activation quantization does not read the weights' `symmetric` flag: with
// float weights (w_bits 16), two schemes that differ only in it give the
// same logits, and they differ from the unquantized model.
TEST_F(EngineTest, ActivationQuantizationIgnoresTheWeightFlag) {
  using mlir::qrealign::ActQuantMode;
  using mlir::qrealign::Granularity;
  using mlir::qrealign::QuantSchemeAttr;
  LOAD_OR_SKIP(fp);
  LOAD_OR_SKIP(asym, [](mlir::MLIRContext &c) {
    return QuantSchemeAttr::get(&c, 16, 4, Granularity::PerChannel, 0, false,
                                ActQuantMode::Dynamic);
  });
  LOAD_OR_SKIP(sym, [](mlir::MLIRContext &c) {
    return QuantSchemeAttr::get(&c, 16, 4, Granularity::PerChannel, 0, true,
                                ActQuantMode::Dynamic);
  });
  // act_symmetric does apply: no zero point per token.
  LOAD_OR_SKIP(symAct, [](mlir::MLIRContext &c) {
    return QuantSchemeAttr::get(&c, 16, 4, Granularity::PerChannel, 0, false,
                                ActQuantMode::Dynamic, /*actSymmetric=*/true);
  });
  std::vector<int64_t> seq = {1, 4, 9, 16};
  auto a = asym->forward({seq}), b = sym->forward({seq}),
       f = fp->forward({seq}), s = symAct->forward({seq});
  ASSERT_TRUE(bool(a) && bool(b) && bool(f) && bool(s));
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *f);
  EXPECT_NE(*s, *a);
  EXPECT_NE(*s, *f);
}

// EngineAPI.h: the engine copies what it needs, so the program it was
// created from may be freed (it used to keep a reference to the program and
// its instructions' name strings).
TEST_F(EngineTest, EngineOutlivesItsProgram) {
  LOAD_OR_SKIP(reference);
  std::vector<int64_t> seq = {1, 4, 9, 16};
  auto before = reference->forward({seq});
  ASSERT_TRUE(bool(before));
  LOAD_OR_SKIP(engine);
  // Scribble over the program `engine` was created from (as if the caller
  // had freed and reused it): an engine that kept references sees this.
  auto &p = const_cast<qr_program &>(programs.back()->get());
  auto *instrs = const_cast<qr_instr *>(p.instrs);
  for (int i = 0; i < p.num_instrs; ++i)
    instrs[i].name = "scribbled";
  p.vocab_size = 1;
  p.hidden_size = 1;
  p.num_layers = 0;
  p.logits_value = p.ids_value;
  auto after = engine->forward({seq});
  ASSERT_TRUE(bool(after));
  EXPECT_EQ(*before, *after);
  // LoRA finds its target linears by the instructions' names.
  TrainOptions o;
  o.loraRank = 2;
  o.loraAlpha = 4;
  EXPECT_FALSE(bool(engine->trainBegin(o)));
  EXPECT_FALSE(bool(engine->trainEnd()));
}

// The engine's run-time quantize-dequantize (libtorch) against the scalar
// quantizer of qrealign/Quant: a one-layer model whose layer yields
// `fake_quantize` of the embedded tokens, captured at the last token.
TEST_F(EngineTest, RunTimeFakeQuantizeMatchesTheScalarQuantizer) {
  const std::vector<float> table = {
      -1.5f, 0.75f, 0.45f, -2.2f, -0.65f, 2.85f, 0.85f, 0.0f,  //
      1.0f,  0.7f,  -2.6f, 0.85f, -2.95f, 2.8f,  2.35f, 0.0f,  //
      0.1f,  -0.3f, 0.37f, 0.9f,  -0.05f, 0.2f,  0.61f, -0.8f, //
      3.1f,  -1.2f, 0.05f, 0.3f,  1.7f,   -0.4f, -2.1f, 0.9f};
  std::string values = "[[";
  for (size_t i = 0; i < table.size(); ++i)
    values += (i % 8 ? ", " : (i ? "], [" : "")) + std::to_string(table[i]);
  values += "]]";
  auto run = [&](llvm::StringRef quantize) -> std::vector<float> {
    std::string ir = R"(
module {
  qrealign.param @table : tensor<4x8xf32> = dense<)" +
                     values + R"(>
  qrealign.param @scale : tensor<1x1xf32> = dense<0.25>
  qrealign.param @zero : tensor<1x1xi8> = dense<3>
  func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x4xf32> {
    %t = qrealign.get_param @table : tensor<4x8xf32>
    %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<4x8xf32>) -> tensor<?x?x8xf32>
    %o = qrealign.layer 0 (%h) : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
    ^bb0(%x: tensor<?x?x8xf32>):
      %s = qrealign.get_param @scale : tensor<1x1xf32>
      %z = qrealign.get_param @zero : tensor<1x1xi8>
      %q = )" + quantize.str() +
                     R"(
      qrealign.yield %q : tensor<?x?x8xf32>
    }
    %t2 = qrealign.get_param @table : tensor<4x8xf32>
    %l = qrealign.linear "lm_head" %o, %t2 : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
    return %l : tensor<?x?x4xf32>
  }
})";
    mlir::OwningOpRef<mlir::ModuleOp> module =
        mlir::parseSourceString<mlir::ModuleOp>(ir, &context);
    EXPECT_TRUE(bool(module)) << ir;
    if (!module)
      return {};
    auto program = lowerToProgram(*module);
    EXPECT_TRUE(mlir::succeeded(program));
    if (mlir::failed(program))
      return {};
    programs.push_back(std::move(*program));
    auto engine = Engine::create(*programs.back(), EngineOptions());
    if (!engine) {
      llvm::consumeError(engine.takeError());
      return {};
    }
    // Tokens 2 then 3: the last token's row is table row 3.
    auto captured = (*engine)->capture({{2, 3}}, {0}, {-1});
    EXPECT_TRUE(bool(captured));
    return captured ? (*captured)[0][0] : std::vector<float>();
  };
  auto expectRow = [&](llvm::StringRef quantize, std::vector<float> want) {
    SCOPED_TRACE(quantize.str());
    std::vector<float> got = run(quantize);
    if (got.empty() && !HasFailure())
      GTEST_SKIP() << "libQRealignEngine.so not built";
    ASSERT_EQ(got.size(), 8u);
    for (int i = 0; i < 8; ++i)
      EXPECT_NEAR(got[i], want[i], 1e-6f) << i;
  };
  llvm::ArrayRef<float> row3(table.data() + 24, 8);
  llvm::ArrayRef<float> rows23(table.data() + 16, 16);
  auto scalar = [](llvm::ArrayRef<float> w, int64_t n, WeightQuantSpec spec) {
    QuantizedWeight q = quantizeWeight(w, n, 8, spec);
    return dequantizeWeight(q.q, n, 8, q.scale, q.zeroPoint, q.scaleRows,
                            q.groups);
  };
  // Per token, asymmetric 4 bits.
  expectRow("qrealign.fake_quantize %x bits = 4 per_channel : "
            "(tensor<?x?x8xf32>) -> tensor<?x?x8xf32>",
            scalar(row3, 1, {4, 0, false}));
  // Per token and group of 4, symmetric 8 bits.
  expectRow("qrealign.fake_quantize %x bits = 8 per_group group_size = 4 "
            "symmetric : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32>",
            scalar(row3, 1, {8, 4, true}));
  // Per tensor: one range over both tokens.
  std::vector<float> both = scalar(rows23, 2, {3, -1, false});
  expectRow("qrealign.fake_quantize %x bits = 3 per_tensor : "
            "(tensor<?x?x8xf32>) -> tensor<?x?x8xf32>",
            std::vector<float>(both.begin() + 8, both.end()));
  // Static: scale 0.25 and zero point 3 (act = static).
  std::vector<int8_t> q = quantizeOnGrid(row3, 1, 8, 4, {0.25f}, {3}, 1, 1);
  expectRow("qrealign.fake_quantize %x scale %s zero_point %z bits = 4 "
            "per_tensor : (tensor<?x?x8xf32>, tensor<1x1xf32>, "
            "tensor<1x1xi8>) -> tensor<?x?x8xf32>",
            dequantizeWeight(q, 1, 8, {0.25f}, {3}, 1, 1));
}

TEST_F(EngineTest, BadInputIsAnError) {
  LOAD_OR_SKIP(engine);
  auto oov = engine->forward({{1, 48}});
  ASSERT_FALSE(bool(oov));
  EXPECT_EQ(llvm::toString(oov.takeError()),
            "token id 48 is outside the vocabulary [0, 48)");
  auto layer = engine->capture({{1, 2}}, {3}, {-1});
  ASSERT_FALSE(bool(layer));
  EXPECT_EQ(llvm::toString(layer.takeError()),
            "layer 3 does not exist (the model has 2; layer 2 is the LM "
            "head's input)");
  auto pos = engine->capture({{1, 2}}, {0}, {5});
  ASSERT_FALSE(bool(pos));
  EXPECT_EQ(llvm::toString(pos.takeError()),
            "capture position 5 is outside sequence 0 of length 2");
  auto empty = engine->generate({{}}, 3, {});
  ASSERT_FALSE(bool(empty));
  llvm::consumeError(empty.takeError());
}

//===----------------------------------------------------------------------===//
// Training
//===----------------------------------------------------------------------===//

std::vector<uint8_t> targetsFrom(size_t n, size_t first) {
  std::vector<uint8_t> m(n, 0);
  for (size_t i = first; i < n; ++i)
    m[i] = 1;
  return m;
}

// The loss is the mean next-token negative log-likelihood over the marked
// targets, computed here from the engine's own logits.
TEST_F(EngineTest, LossIsMeanNLLOfTargets) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> a = {1, 7, 9, 11, 3}, b = {2, 5, 6};
  std::vector<uint8_t> ma = {0, 0, 1, 1, 0}, mb = {0, 1, 1};
  auto loss = engine->evalLoss({a, b}, {ma, mb});
  ASSERT_TRUE(bool(loss)) << llvm::toString(loss.takeError());
  auto logits = engine->forward({a, b}, /*allPositions=*/true);
  ASSERT_TRUE(bool(logits));
  double sum = 0;
  int count = 0;
  auto nll = [](const std::vector<float> &row, int64_t t) {
    double mx = *std::max_element(row.begin(), row.end()), z = 0;
    for (float x : row)
      z += std::exp(x - mx);
    return -(row[t] - mx - std::log(z));
  };
  for (size_t i = 1; i < a.size(); ++i)
    if (ma[i]) {
      sum += nll((*logits)[i - 1], a[i]);
      ++count;
    }
  for (size_t i = 1; i < b.size(); ++i)
    if (mb[i]) {
      sum += nll((*logits)[a.size() + i - 1], b[i]);
      ++count;
    }
  EXPECT_NEAR(*loss, sum / count, 1e-4);
}

// Full fine-tuning memorizes a sequence: greedy decoding from its first two
// tokens then reproduces the rest, and the saved checkpoint reloads to the
// same logits.
TEST_F(EngineTest, FullTrainingMemorizesAndSaves) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> seq = {1, 20, 33, 7, 41, 12, 5, 29, 44, 2};
  auto before = engine->forward({seq}, true);
  ASSERT_TRUE(bool(before));
  TrainOptions o;
  ASSERT_FALSE(bool(engine->trainBegin(o)));
  float first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    auto loss = engine->trainStep({seq}, {targetsFrom(seq.size(), 2)}, 1e-2);
    ASSERT_TRUE(bool(loss)) << llvm::toString(loss.takeError());
    (step == 0 ? first : last) = *loss;
  }
  EXPECT_GT(first, 2.0f);
  EXPECT_LT(last, 0.05f);
  ASSERT_FALSE(bool(engine->trainEnd()));
  auto gen = engine->generate({{seq[0], seq[1]}}, seq.size() - 2, {});
  ASSERT_TRUE(bool(gen));
  EXPECT_EQ(gen->tokens[0], std::vector<int64_t>(seq.begin() + 2, seq.end()));

  // Save, then load the saved weights through the importer again.
  llvm::SmallString<128> copy;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qr-trained", copy));
  ASSERT_FALSE(bool(
      llvm::sys::fs::copy_file(*dir + "/config.json", copy + "/config.json")));
  ASSERT_FALSE(
      bool(engine->saveSafeTensors((copy + "/model.safetensors").str())));
  std::string saved = *dir;
  *dir = std::string(copy);
  auto reloaded = load();
  *dir = saved;
  ASSERT_TRUE(reloaded);
  auto a = engine->forward({seq}, true), b = reloaded->forward({seq}, true);
  ASSERT_TRUE(bool(a) && bool(b));
  float maxDiff = 0, maxChange = 0;
  for (size_t r = 0; r < a->size(); ++r)
    for (size_t v = 0; v < (*a)[r].size(); ++v) {
      maxDiff = std::max(maxDiff, std::abs((*a)[r][v] - (*b)[r][v]));
      maxChange = std::max(maxChange, std::abs((*a)[r][v] - (*before)[r][v]));
    }
  EXPECT_LT(maxDiff, 1e-5f);
  EXPECT_GT(maxChange, 1.0f);

  // bfloat16: rounded, so close but not identical.
  ASSERT_FALSE(bool(engine->saveSafeTensors((copy + "/model.safetensors").str(),
                                            /*bf16=*/true)));
  *dir = std::string(copy);
  auto half = load();
  *dir = saved;
  ASSERT_TRUE(half);
  auto c = half->forward({seq}, true);
  ASSERT_TRUE(bool(c));
  float halfDiff = 0;
  for (size_t r = 0; r < a->size(); ++r)
    for (size_t v = 0; v < (*a)[r].size(); ++v)
      halfDiff = std::max(halfDiff, std::abs((*a)[r][v] - (*c)[r][v]));
  EXPECT_GT(halfDiff, 0.f);
  EXPECT_LT(halfDiff, 0.5f);
  for (size_t r = 0; r < a->size(); ++r) // the memorized tokens survive
    EXPECT_EQ(argmax((*a)[r]), argmax((*c)[r]));
  llvm::sys::fs::remove_directories(copy);
}

// LoRA trains only the adapters of the targeted linears; merging them into
// the weights gives the logits the adapters gave.
TEST_F(EngineTest, LoraMergesExactlyAndTouchesOnlyTargets) {
  LOAD_OR_SKIP(engine);
  const qr_program &p = programs.back()->get();
  std::vector<std::vector<float>> before;
  for (int i = 0; i < p.num_params; ++i)
    before.push_back(*engine->readParam(i));
  TrainOptions o;
  o.loraRank = 4;
  o.loraAlpha = 8;
  o.seed = 3;
  ASSERT_FALSE(bool(engine->trainBegin(o)));
  std::vector<int64_t> seq = {1, 20, 33, 7, 41, 12};
  for (int step = 0; step < 20; ++step)
    ASSERT_TRUE(
        bool(engine->trainStep({seq}, {targetsFrom(seq.size(), 1)}, 1e-2)));
  auto adapted = engine->forward({seq}, true);
  ASSERT_TRUE(bool(adapted));
  ASSERT_FALSE(bool(engine->trainEnd()));
  auto merged = engine->forward({seq}, true);
  ASSERT_TRUE(bool(merged));
  for (size_t r = 0; r < adapted->size(); ++r)
    for (size_t v = 0; v < (*adapted)[r].size(); ++v)
      EXPECT_NEAR((*adapted)[r][v], (*merged)[r][v], 1e-4);
  int changed = 0;
  for (int i = 0; i < p.num_params; ++i) {
    llvm::StringRef name = programs.back()->getTensorName(i);
    bool target =
        name.ends_with("q_proj.weight") || name.ends_with("v_proj.weight");
    bool same = *engine->readParam(i) == before[i];
    EXPECT_EQ(same, !target) << name.str();
    changed += !same;
  }
  EXPECT_EQ(changed, 4); // q and v of 2 layers
}

// A training state saved mid-run and restored into a fresh engine continues
// exactly as the uninterrupted run: same adapters, moments, step and dropout
// masks, so the final weights are bit-identical. Dropout does change the
// result, and a state of other options is refused.
TEST_F(EngineTest, TrainStateResumesExactly) {
  std::vector<int64_t> seq = {1, 20, 33, 7, 41, 12, 5, 29};
  auto targets = targetsFrom(seq.size(), 1);
  TrainOptions o;
  o.loraRank = 4;
  o.loraAlpha = 8;
  o.loraDropout = 0.25;
  o.seed = 5;
  auto finalParams = [&](Engine &e) {
    std::vector<std::vector<float>> out;
    for (int i = 0; i < programs.back()->get().num_params; ++i)
      out.push_back(*e.readParam(i));
    return out;
  };
  LOAD_OR_SKIP(whole);
  ASSERT_FALSE(bool(whole->trainBegin(o)));
  for (int step = 0; step < 6; ++step)
    ASSERT_TRUE(bool(whole->trainStep({seq}, {targets}, 1e-2 * (step + 1))));
  ASSERT_FALSE(bool(whole->trainEnd()));
  auto expected = finalParams(*whole);

  llvm::SmallString<128> state;
  ASSERT_FALSE(
      llvm::sys::fs::createTemporaryFile("qr-state", "safetensors", state));
  LOAD_OR_SKIP(first);
  ASSERT_FALSE(bool(first->trainBegin(o)));
  for (int step = 0; step < 3; ++step)
    ASSERT_TRUE(bool(first->trainStep({seq}, {targets}, 1e-2 * (step + 1))));
  ASSERT_FALSE(bool(first->saveTrainState(state, {{"note", "test"}})));

  LOAD_OR_SKIP(second);
  ASSERT_FALSE(bool(second->trainBegin(o)));
  auto step = second->loadTrainState(state);
  ASSERT_TRUE(bool(step)) << llvm::toString(step.takeError());
  EXPECT_EQ(*step, 3);
  for (int s = 3; s < 6; ++s)
    ASSERT_TRUE(bool(second->trainStep({seq}, {targets}, 1e-2 * (s + 1))));
  ASSERT_FALSE(bool(second->trainEnd()));
  EXPECT_TRUE(finalParams(*second) == expected);

  // Without dropout the same run ends elsewhere.
  LOAD_OR_SKIP(plain);
  TrainOptions noDropout = o;
  noDropout.loraDropout = 0;
  ASSERT_FALSE(bool(plain->trainBegin(noDropout)));
  for (int s = 0; s < 6; ++s)
    ASSERT_TRUE(bool(plain->trainStep({seq}, {targets}, 1e-2 * (s + 1))));
  ASSERT_FALSE(bool(plain->trainEnd()));
  EXPECT_FALSE(finalParams(*plain) == expected);

  // A LoRA state does not fit full fine-tuning, nor another rank.
  LOAD_OR_SKIP(full);
  ASSERT_FALSE(bool(full->trainBegin(TrainOptions())));
  auto wrong = full->loadTrainState(state);
  ASSERT_FALSE(bool(wrong));
  EXPECT_NE(llvm::toString(wrong.takeError())
                .find("holds 8 trainable tensors, this run trains 26"),
            std::string::npos);
  LOAD_OR_SKIP(rank2);
  TrainOptions r2 = o;
  r2.loraRank = 2;
  ASSERT_FALSE(bool(rank2->trainBegin(r2)));
  auto shape = rank2->loadTrainState(state);
  ASSERT_FALSE(bool(shape));
  EXPECT_NE(llvm::toString(shape.takeError())
                .find("tensor 'value.0' is F32 [64], expected F32 [32]"),
            std::string::npos);
  // Not a state at all: a model checkpoint.
  auto model = rank2->loadTrainState(*dir + "/model.safetensors");
  ASSERT_FALSE(bool(model));
  EXPECT_NE(llvm::toString(model.takeError())
                .find("not a qrealign training "
                      "state"),
            std::string::npos);
  // Before train_begin there is no state to save.
  LOAD_OR_SKIP(idle);
  llvm::Error none = idle->saveTrainState(state);
  EXPECT_EQ(llvm::toString(std::move(none)),
            "no training state: call train_begin first");
  llvm::sys::fs::remove(state);
}

TEST_F(EngineTest, BadTrainingIsAnError) {
  LOAD_OR_SKIP(engine);
  std::vector<int64_t> seq = {1, 2, 3};
  auto early = engine->trainStep({seq}, {targetsFrom(3, 1)}, 1e-3);
  ASSERT_FALSE(bool(early));
  EXPECT_EQ(llvm::toString(early.takeError()), "train_step before train_begin");
  TrainOptions lora;
  lora.loraRank = 2;
  lora.loraTargets = "q_proj,wq";
  llvm::Error err = engine->trainBegin(lora);
  EXPECT_EQ(llvm::toString(std::move(err)),
            "no linear named 'wq' to put a LoRA adapter on");
  TrainOptions dropout;
  dropout.loraRank = 2;
  dropout.loraDropout = 1.0;
  llvm::Error drop = engine->trainBegin(dropout);
  EXPECT_EQ(llvm::toString(std::move(drop)), "lora_dropout must be in [0, 1)");
  ASSERT_FALSE(bool(engine->trainBegin(TrainOptions())));
  auto firstTok = engine->trainStep({seq}, {targetsFrom(3, 0)}, 1e-3);
  ASSERT_FALSE(bool(firstTok));
  EXPECT_EQ(llvm::toString(firstTok.takeError()),
            "sequence 0: its first token cannot be a training target");
  auto none = engine->trainStep({seq}, {targetsFrom(3, 3)}, 1e-3);
  ASSERT_FALSE(bool(none));
  EXPECT_EQ(llvm::toString(none.takeError()),
            "the batch has no training targets");
  auto shape = engine->trainStep({seq}, {targetsFrom(2, 1)}, 1e-3);
  ASSERT_FALSE(bool(shape));
  EXPECT_EQ(llvm::toString(shape.takeError()),
            "a target mask must have one entry per token");

  LOAD_OR_SKIP(w8, [](mlir::MLIRContext &c) {
    return mlir::qrealign::QuantSchemeAttr::get(
        &c, 8, 16, mlir::qrealign::Granularity::PerChannel, 0, false,
        mlir::qrealign::ActQuantMode::Dynamic);
  });
  llvm::Error q = w8->trainBegin(TrainOptions());
  EXPECT_NE(llvm::toString(std::move(q))
                .find("cannot train a program with "
                      "quantized linears"),
            std::string::npos);
}
} // namespace

// A function program (calibration's form): a linear whose weight is
// computed at run time from trainable clipping logits and a smoothing
// scale, and a squared-error loss. Its outputs match the host quantizer,
// one optimizer step lowers the loss and moves only trainable tensors, and
// misuse is an error.
TEST_F(EngineTest, FunctionProgramsRunAndLearn) {
  const char *ir = R"(
module {
  qrealign.param @w : tensor<4x8xf32> = dense<[[0.5, -1.0, 0.25, 2.0, -0.75, 1.5, 0.1, -0.3], [1.2, 0.4, -2.2, 0.8, 0.05, -0.6, 1.1, 0.9], [-0.2, 0.3, 0.7, -1.9, 1.4, 0.6, -0.8, 0.2], [0.9, -1.3, 0.45, 0.15, -0.5, 2.4, -1.1, 0.35]]>
  qrealign.param @cmax : tensor<4x1xf32> = dense<1.0>
  qrealign.param @cmin : tensor<4x1xf32> = dense<2.0>
  qrealign.param @s : tensor<8xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x8xf32>, %t: tensor<?x?x4xf32>, %tw: tensor<?x?xf32>, %i: tensor<?xi64>) -> (tensor<f32>, tensor<?x?x4xf32>, tensor<?x4xf32>) {
    %w = qrealign.get_param @w : tensor<4x8xf32>
    %s = qrealign.get_param @s trainable : tensor<8xf32>
    %cmax = qrealign.get_param @cmax trainable : tensor<4x1xf32>
    %cmin = qrealign.get_param @cmin trainable : tensor<4x1xf32>
    %ws = qrealign.smooth_weight %w, %s : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
    %wq = qrealign.fake_quantize %ws clip %cmax, %cmin bits = 4 per_channel : (tensor<4x8xf32>, tensor<4x1xf32>, tensor<4x1xf32>) -> tensor<4x8xf32>
    %xs = qrealign.smooth %x, %s : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %y = qrealign.linear "q_proj" %xs, %wq : (tensor<?x?x8xf32>, tensor<4x8xf32>) -> tensor<?x?x4xf32>
    %l = qrealign.squared_error %y, %t, %tw coefficient = 1.0 : (tensor<?x?x4xf32>, tensor<?x?x4xf32>, tensor<?x?xf32>) -> tensor<f32>
    %g = qrealign.gather_token %y, %i : (tensor<?x?x4xf32>, tensor<?xi64>) -> tensor<?x4xf32>
    return %l, %y, %g : tensor<f32>, tensor<?x?x4xf32>, tensor<?x4xf32>
  }
})";
  mlir::OwningOpRef<mlir::ModuleOp> module =
      mlir::parseSourceString<mlir::ModuleOp>(ir, &context);
  ASSERT_TRUE(bool(module));
  auto program = lowerToProgram(*module, {}, "f");
  ASSERT_TRUE(mlir::succeeded(program));
  auto created = Engine::create(**program, EngineOptions());
  if (!created) {
    std::string msg = llvm::toString(created.takeError());
    if (msg.find("cannot load the execution engine") != std::string::npos)
      GTEST_SKIP() << "libQRealignEngine.so not built";
    FAIL() << msg;
  }
  Engine &engine = **created;
  const qr_program &p = (*program)->get();
  std::vector<int> trainable;
  for (int i = 0; i < p.num_params; ++i)
    if (p.params[i].flags & QR_PARAM_TRAINABLE)
      trainable.push_back(i);
  ASSERT_EQ(trainable, (std::vector<int>{1, 2, 3}));

  // One sequence of 2 tokens; targets of 0 weighted 1/2 per token.
  std::vector<float> x = {0.3f,  -0.2f, 1.1f,  0.4f, -0.9f, 0.6f,
                          0.05f, -1.4f, -0.7f, 0.8f, 0.2f,  -0.1f,
                          1.3f,  -0.5f, 0.9f,  0.25f};
  std::vector<float> t(8, 0.0f), tw = {0.5f, 0.5f};
  std::vector<int64_t> index = {1};
  auto tensor = [](int32_t dtype, std::vector<int64_t> shape, void *data) {
    qr_tensor q{};
    q.dtype = dtype;
    q.rank = shape.size();
    for (size_t r = 0; r < shape.size(); ++r)
      q.shape[r] = shape[r];
    q.data = data;
    return q;
  };
  std::vector<qr_tensor> in = {tensor(QR_DTYPE_F32, {1, 2, 8}, x.data()),
                               tensor(QR_DTYPE_F32, {1, 2, 4}, t.data()),
                               tensor(QR_DTYPE_F32, {1, 2}, tw.data()),
                               tensor(QR_DTYPE_I64, {1}, index.data())};
  float loss = 0;
  std::vector<float> y(8), last(4);
  std::vector<qr_tensor> out = {tensor(QR_DTYPE_F32, {}, &loss),
                                tensor(QR_DTYPE_F32, {1, 2, 4}, y.data()),
                                tensor(QR_DTYPE_F32, {1, 4}, last.data())};
  ASSERT_FALSE(bool(engine.call(in, out)));

  // The host quantizer, with the same clipping factors (identity smoothing).
  auto w = engine.readParam(0);
  ASSERT_TRUE(bool(w));
  WeightQuantSpec spec{4, 0, false};
  std::vector<float> cmax(4, 1.0f), cmin(4, 2.0f);
  spec.clipMax = cmax;
  spec.clipMin = cmin;
  QuantizedWeight q = quantizeWeight(*w, 4, 8, spec);
  std::vector<float> wq =
      dequantizeWeight(q.q, 4, 8, q.scale, q.zeroPoint, q.scaleRows, q.groups);
  double want = 0;
  for (int s = 0; s < 2; ++s)
    for (int n = 0; n < 4; ++n) {
      float acc = 0;
      for (int k = 0; k < 8; ++k)
        acc += x[s * 8 + k] * wq[n * 8 + k];
      EXPECT_NEAR(y[s * 4 + n], acc, 1e-5f) << s << " " << n;
      want += 0.5 * acc * acc / 4;
    }
  EXPECT_NEAR(loss, want, 1e-5 * want);
  for (int n = 0; n < 4; ++n)
    EXPECT_EQ(last[n], y[4 + n]);

  // Misuse.
  EXPECT_TRUE(
      llvm::errorToBool(engine.call(llvm::ArrayRef(in).drop_back(), out)));
  std::vector<qr_tensor> wrong = out;
  wrong[1].shape[1] = 3;
  EXPECT_TRUE(llvm::errorToBool(engine.call(in, wrong)));
  {
    auto step = engine.optimizeStep(in, 0.1);
    EXPECT_FALSE(bool(step));
    llvm::consumeError(step.takeError());
  }
  std::vector<int64_t> outside = {2};
  std::vector<qr_tensor> badIndex = in;
  badIndex[3].data = outside.data();
  EXPECT_TRUE(llvm::errorToBool(engine.call(badIndex, out)));
  TrainOptions lora;
  lora.trainableOnly = true;
  lora.loraRank = 2;
  EXPECT_TRUE(llvm::errorToBool(engine.trainBegin(lora)));

  // Steps lower the loss and move the trainable tensors only.
  TrainOptions o;
  o.trainableOnly = true;
  o.gradClip = 0;
  o.lrScales = {1e-2, 1e-1, 1e-1};
  ASSERT_FALSE(bool(engine.trainBegin(o)));
  float first = 0;
  for (int step = 0; step < 20; ++step) {
    auto l = engine.optimizeStep(in, 1.0);
    ASSERT_TRUE(bool(l));
    if (step == 0)
      first = *l;
  }
  EXPECT_FLOAT_EQ(first, loss);
  ASSERT_FALSE(bool(engine.call(in, out)));
  EXPECT_LT(loss, first);
  auto w2 = engine.readParam(0);
  ASSERT_TRUE(bool(w2));
  EXPECT_EQ(*w, *w2);
  auto c2 = engine.readParam(1);
  ASSERT_TRUE(bool(c2));
  EXPECT_NE(*c2, cmax);
}
