//===- SentencePieceTokenizer.cpp - SentencePiece tokenizer.model ---------===//

#include "TokenizerImpl.h"
#include "qrealign/Support/InputFile.h"
#include "llvm/Support/MemoryBuffer.h"

#include "qrealign/Support/AtomicOutput.h"

#include "llvm/Support/raw_ostream.h"

#ifdef QREALIGN_HAVE_SENTENCEPIECE
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>
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
  // Read the model here (regular files only, size capped) rather than let
  // libsentencepiece open the path: a FIFO would block it forever.
  Expected<std::unique_ptr<MemoryBuffer>> buf =
      readRegularFile(path, uint64_t(256) << 20, "a SentencePiece model");
  if (!buf)
    return buf.takeError();
  auto status = tok->sp.LoadFromSerializedProto(
      std::string_view((*buf)->getBufferStart(), (*buf)->getBufferSize()));
  if (!status.ok())
    return createStringError(
        inconvertibleErrorCode(),
        path + ": not a SentencePiece model: " + status.ToString());
  tok->setSpecialIds(tok->sp.bos_id(), tok->sp.eos_id());
  return std::unique_ptr<Tokenizer>(std::move(tok));
}
} // namespace qrealign::detail

namespace qrealign {
namespace {
/// Feeds the texts to the trainer, newlines flattened (so the trained model
/// records no input file names: same texts, same bytes).
class TextIterator : public sentencepiece::SentenceIterator {
public:
  explicit TextIterator(ArrayRef<std::string> t) : texts(t) { load(); }
  bool done() const override { return index >= texts.size(); }
  void Next() override {
    ++index;
    load();
  }
  const std::string &value() const override { return current; }
  sentencepiece::util::Status status() const override {
    return sentencepiece::util::Status();
  }

private:
  void load() {
    if (done())
      return;
    current = texts[index];
    for (char &c : current)
      if (c == '\n' || c == '\r')
        c = ' ';
  }
  ArrayRef<std::string> texts;
  size_t index = 0;
  std::string current;
};
} // namespace

Error trainSentencePiece(ArrayRef<std::string> texts, StringRef modelPath,
                         int vocabSize) {
  std::string args =
      "--vocab_size=" + std::to_string(vocabSize) +
      " --model_type=bpe --character_coverage=1.0 --byte_fallback=true"
      " --split_digits=true --num_threads=1 --shuffle_input_sentence=false"
      " --unk_id=0 --bos_id=1 --eos_id=2 --pad_id=-1 --minloglevel=2"
      " --max_sentence_length=8192 --hard_vocab_limit=false";
  TextIterator it(texts);
  std::string proto;
  auto status = sentencepiece::SentencePieceTrainer::Train(args, &it, &proto);
  if (!status.ok())
    return createStringError(
        inconvertibleErrorCode(),
        modelPath + ": SentencePiece training failed: " + status.ToString());
  return writeFileAtomically(modelPath, [&](raw_ostream &os) {
    os << proto;
    return Error::success();
  });
}
} // namespace qrealign

namespace qrealign::detail {
#else
Expected<std::unique_ptr<Tokenizer>> loadSentencePiece(StringRef path) {
  return createStringError(inconvertibleErrorCode(),
                           path + ": qrealign was built without SentencePiece "
                                  "(install libsentencepiece-dev and rebuild)");
}
} // namespace qrealign::detail

namespace qrealign {
Error trainSentencePiece(ArrayRef<std::string>, StringRef modelPath, int) {
  return createStringError(inconvertibleErrorCode(),
                           modelPath + ": qrealign was built without "
                                       "SentencePiece (install "
                                       "libsentencepiece-dev and rebuild)");
}
} // namespace qrealign

namespace qrealign::detail {
#endif
} // namespace qrealign::detail
