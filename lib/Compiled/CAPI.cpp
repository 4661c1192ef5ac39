//===- CAPI.cpp - The C interface of the compiled-model runtime -----------===//
//
// Part of the qrealign project.
//
// qr_compiled_* (include/qrealign/Compiled/CAPI.h) over CompiledModel::load,
// forward and generate.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/CAPI.h"
#include "qrealign/Compiled/CompiledModel.h"

#include "llvm/Support/Error.h"

#include <cstring>
#include <string>

struct qr_compiled_model {
  std::unique_ptr<qrealign::CompiledModel> model;
};

namespace {
int fail(char *err, size_t errLen, const std::string &message) {
  if (err && errLen) {
    size_t n = std::min(errLen - 1, message.size());
    std::memcpy(err, message.data(), n);
    err[n] = '\0';
  }
  return 1;
}

int fail(char *err, size_t errLen, llvm::Error error) {
  return fail(err, errLen, llvm::toString(std::move(error)));
}

/// Null arguments a function cannot work without.
bool missing(
    char *err, size_t errLen, const char *function,
    std::initializer_list<std::pair<const void *, const char *>> arguments) {
  for (auto [ptr, name] : arguments)
    if (!ptr) {
      fail(err, errLen, std::string(function) + ": `" + name + "` is null");
      return true;
    }
  return false;
}
} // namespace

int qr_compiled_load(const char *objectPath, const char *const *scopeFiles,
                     size_t numScopeFiles, qr_compiled_model **model, char *err,
                     size_t errLen) {
  if (missing(err, errLen, "qr_compiled_load",
              {{objectPath, "object_path"}, {model, "model"}}) ||
      (numScopeFiles &&
       missing(err, errLen, "qr_compiled_load", {{scopeFiles, "scope_files"}})))
    return 1;
  *model = nullptr;
  std::vector<std::pair<std::string, std::string>> scopes;
  for (size_t i = 0; i < numScopeFiles; ++i) {
    const char *entry = scopeFiles[i];
    const char *eq = entry ? std::strchr(entry, '=') : nullptr;
    if (!eq || eq == entry || !eq[1])
      return fail(err, errLen,
                  "qr_compiled_load: scope file " + std::to_string(i) +
                      " is not SCOPE=PATH: '" + (entry ? entry : "") + "'");
    scopes.emplace_back(std::string(entry, eq), std::string(eq + 1));
  }
  auto loaded = qrealign::CompiledModel::load(objectPath, scopes);
  if (!loaded)
    return fail(err, errLen, loaded.takeError());
  *model = new qr_compiled_model{std::move(*loaded)};
  return 0;
}

int64_t qr_compiled_vocab_size(const qr_compiled_model *model) {
  return model ? model->model->getVocabSize() : 0;
}

int qr_compiled_logits(qr_compiled_model *model, const int64_t *ids,
                       size_t numIds, float *logits, char *err, size_t errLen) {
  if (missing(err, errLen, "qr_compiled_logits",
              {{model, "model"}, {ids, "ids"}, {logits, "logits"}}))
    return 1;
  if (!numIds)
    return fail(err, errLen, "qr_compiled_logits: no tokens");
  std::vector<std::vector<int64_t>> batch = {
      std::vector<int64_t>(ids, ids + numIds)};
  auto rows = model->model->forward(batch);
  if (!rows)
    return fail(err, errLen, rows.takeError());
  const std::vector<float> &row = rows->front();
  std::memcpy(logits, row.data(), row.size() * sizeof(float));
  return 0;
}

int qr_compiled_generate(qr_compiled_model *model, const int64_t *ids,
                         size_t numIds, int32_t maxNewTokens,
                         const int64_t *eosIds, size_t numEos, int64_t *out,
                         size_t outCapacity, size_t *numOut, char *err,
                         size_t errLen) {
  if (missing(err, errLen, "qr_compiled_generate",
              {{model, "model"},
               {ids, "ids"},
               {out, "out"},
               {numOut, "num_out"}}) ||
      (numEos &&
       missing(err, errLen, "qr_compiled_generate", {{eosIds, "eos_ids"}})))
    return 1;
  *numOut = 0;
  if (!numIds)
    return fail(err, errLen, "qr_compiled_generate: no tokens");
  if (maxNewTokens < 0)
    return fail(err, errLen, "qr_compiled_generate: max_new_tokens < 0");
  if (outCapacity < size_t(maxNewTokens))
    return fail(err, errLen,
                "qr_compiled_generate: out has room for " +
                    std::to_string(outCapacity) +
                    " tokens, max_new_tokens is " +
                    std::to_string(maxNewTokens));
  std::vector<std::vector<int64_t>> batch = {
      std::vector<int64_t>(ids, ids + numIds)};
  auto result = model->model->generate(batch, maxNewTokens,
                                       llvm::ArrayRef<int64_t>(eosIds, numEos));
  if (!result)
    return fail(err, errLen, result.takeError());
  const std::vector<int64_t> &tokens = result->tokens.front();
  std::memcpy(out, tokens.data(), tokens.size() * sizeof(int64_t));
  *numOut = tokens.size();
  return 0;
}

void qr_compiled_free(qr_compiled_model *model) { delete model; }
