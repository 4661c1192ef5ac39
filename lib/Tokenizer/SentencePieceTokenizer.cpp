//===- SentencePieceTokenizer.cpp - SentencePiece tokenizer.model ---------===//

#include "TokenizerImpl.h"

#ifdef QREALIGN_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#endif

using namespace llvm;

namespace qrealign::detail {
#ifdef QREALIGN_HAVE_SENTENCEPIECE
namespace {
class SentencePieceTokenizer : public Tokenizer {
public:
  sentencepiece::SentencePieceProcessor sp;

  std::vector<int64_t> encode(StringRef text) const override {
    std::vector<int> ids;
    if (!sp.Encode(std::string_view(text.data(), text.size()), &ids).ok())
      return {};
    return std::vector<int64_t>(ids.begin(), ids.end());
  }
  std::string decode(ArrayRef<int64_t> tokens) const override {
    std::vector<int> ids;
    for (int64_t t : tokens)
      if (t >= 0 && t < sp.GetPieceSize() && !sp.IsControl(t))
        ids.push_back(int(t));
    std::string out;
    if (!sp.Decode(ids, &out).ok())
      return {};
    return out;
  }
  int64_t getVocabSize() const override { return sp.GetPieceSize(); }
  std::optional<int64_t> lookup(StringRef piece) const override {
    int id = sp.PieceToId(std::string_view(piece.data(), piece.size()));
    if (id == sp.unk_id() && piece != sp.IdToPiece(sp.unk_id()))
      return std::nullopt;
    return id;
  }
  std::optional<std::string> getPiece(int64_t id) const override {
    if (id < 0 || id >= sp.GetPieceSize())
      return std::nullopt;
    return sp.IdToPiece(int(id));
  }
  StringRef getKind() const override { return "sentencepiece"; }
};
} // namespace

Expected<std::unique_ptr<Tokenizer>> loadSentencePiece(StringRef path) {
  auto tok = std::make_unique<SentencePieceTokenizer>();
  auto status = tok->sp.Load(std::string_view(path.data(), path.size()));
  if (!status.ok())
    return createStringError(
        inconvertibleErrorCode(),
        path + ": not a SentencePiece model: " + status.ToString());
  tok->setSpecialIds(tok->sp.bos_id(), tok->sp.eos_id());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}
#else
Expected<std::unique_ptr<Tokenizer>> loadSentencePiece(StringRef path) {
  return createStringError(inconvertibleErrorCode(),
                           path + ": qrealign was built without SentencePiece "
                                  "(install libsentencepiece-dev and rebuild)");
}
#endif
} // namespace qrealign::detail
