//===- qrealign-tokenize.cpp - Inspect a tokenizer
//-------------------------===//
//
// qrealign-tokenize TOKENIZER [--prompt TEXT | --prompts-file FILE]
//                             [--chat-template NAME --system TEXT] [--bos]
// qrealign-tokenize TOKENIZER --decode [--prompt "IDS" | --prompts-file FILE]
//
// Encodes each prompt with a tokenizer file (SentencePiece .model, Hugging
// Face tokenizer.json, llama2.c .bin) and prints one JSON object per prompt:
// the rendered text, its pre-tokens, token ids and pieces, and the decoded
// ids. With --decode, each prompt is a list of ids and the text is printed.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Tokenizer/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/WithColor.h"

#include <cstring>

using namespace llvm;

static cl::OptionCategory cat("qrealign-tokenize options");
static cl::opt<std::string> tokenizerPath(cl::Positional, cl::Required,
                                          cl::desc("<tokenizer file>"),
                                          cl::cat(cat));
static cl::list<std::string>
    prompts("prompt", cl::desc("A prompt (repeatable)"), cl::cat(cat));
static cl::opt<std::string>
    promptsFile("prompts-file",
                cl::desc("File with one prompt per line; \\n, \\r, \\t and "
                         "\\\\ stand for a newline, CR, tab, backslash"),
                cl::value_desc("file"), cl::cat(cat));
static cl::opt<std::string>
    chatTemplate("chat-template",
                 cl::desc("Render prompts with a built-in template first"),
                 cl::init("none"), cl::cat(cat));
static cl::opt<std::string> systemPrompt("system",
                                         cl::desc("System prompt for "
                                                  "--chat-template"),
                                         cl::cat(cat));
static cl::opt<bool> addBos("bos",
                            cl::desc("Prepend BOS where the template would"),
                            cl::cat(cat));
static cl::opt<bool> decodeMode("decode",
                                cl::desc("Prompts are whitespace-separated "
                                         "ids: print their text"),
                                cl::cat(cat));
static cl::opt<std::string> output("o", cl::desc("Output file (default: -)"),
                                   cl::init("-"), cl::value_desc("file"),
                                   cl::cat(cat));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-tokenize") << msg << "\n";
  return 1;
}

static json::Value str(std::string s) {
  if (!json::isUTF8(s))
    s = json::fixUTF8(s);
  return json::Value(std::move(s));
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-tokenize: encode and decode with a "
                              "tokenizer file\n");
  std::vector<std::string> texts(prompts.begin(), prompts.end());
  if (!promptsFile.empty()) {
    ErrorOr<std::unique_ptr<MemoryBuffer>> buf =
        MemoryBuffer::getFileOrSTDIN(promptsFile, /*IsText=*/true);
    if (!buf)
      return error(promptsFile + ": " + buf.getError().message());
    SmallVector<StringRef> lines;
    (*buf)->getBuffer().split(lines, '\n');
    if (!lines.empty() && lines.back().empty())
      lines.pop_back();
    for (auto [no, line] : llvm::enumerate(lines)) {
      std::string text;
      for (size_t i = 0; i < line.size(); ++i) {
        if (line[i] != '\\') {
          text.push_back(line[i]);
          continue;
        }
        char next = i + 1 < line.size() ? line[i + 1] : 0;
        const char *escapes = "n\nr\rt\t\\\\";
        const char *hit = next ? std::strchr(escapes, next) : nullptr;
        if (!hit || (hit - escapes) % 2)
          return error(promptsFile + ":" + Twine(no + 1) +
                       ": a backslash must be followed by n, r, t or \\");
        text.push_back(hit[1]);
        ++i;
      }
      texts.push_back(std::move(text));
    }
  }
  if (texts.empty())
    return error("no prompt: pass --prompt TEXT or --prompts-file FILE");

  auto loaded = qrealign::Tokenizer::load(tokenizerPath);
  if (!loaded)
    return error(toString(loaded.takeError()));
  const qrealign::Tokenizer &tok = **loaded;

  std::vector<json::Value> results;
  for (const std::string &text : texts) {
    if (decodeMode) {
      SmallVector<StringRef> words;
      StringRef(text).split(words, ' ', -1, /*KeepEmpty=*/false);
      std::vector<int64_t> ids;
      for (StringRef w : words) {
        int64_t id;
        if (w.trim().getAsInteger(10, id) || id < 0 || id >= tok.getVocabSize())
          return error("--decode: '" + w + "' is not a token id below " +
                       Twine(tok.getVocabSize()));
        ids.push_back(id);
      }
      results.push_back(
          json::Object{{"ids", ids}, {"text", str(tok.decode(ids))}});
      continue;
    }
    auto chat = qrealign::applyChatTemplate(chatTemplate, systemPrompt, text);
    if (!chat)
      return error(toString(chat.takeError()));
    std::vector<int64_t> ids;
    if (addBos && chat->addBos && tok.getBosId() >= 0)
      ids.push_back(tok.getBosId());
    std::vector<int64_t> body = tok.encode(chat->text);
    ids.insert(ids.end(), body.begin(), body.end());
    json::Array pieces, preTokens;
    for (int64_t id : ids)
      pieces.push_back(str(tok.getPiece(id).value_or("")));
    for (std::string &p : tok.preTokenize(chat->text))
      preTokens.push_back(str(std::move(p)));
    results.push_back(json::Object{{"text", str(chat->text)},
                                   {"pre_tokens", std::move(preTokens)},
                                   {"ids", ids},
                                   {"pieces", std::move(pieces)},
                                   {"decoded", str(tok.decode(body))}});
  }
  Error err = qrealign::writeFileAtomically(output, [&](raw_ostream &os) {
    for (const json::Value &v : results)
      os << v << "\n";
    return Error::success();
  });
  if (err)
    return error(toString(std::move(err)));
  return 0;
}
