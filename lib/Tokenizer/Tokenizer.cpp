//===- Tokenizer.cpp - Tokenizer dispatch and chat templates --------------===//

#include "qrealign/Tokenizer/Tokenizer.h"
#include "TokenizerImpl.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"

using namespace llvm;

namespace qrealign {
Tokenizer::~Tokenizer() = default;

Expected<std::unique_ptr<Tokenizer>> Tokenizer::load(StringRef path) {
  if (!sys::fs::exists(path))
    return createStringError(inconvertibleErrorCode(),
                             path + ": no such tokenizer file");
  if (path.ends_with(".model"))
    return detail::loadSentencePiece(path);
  if (path.ends_with(".json"))
    return detail::loadHFTokenizer(path);
  if (path.ends_with(".bin"))
    return detail::loadLlama2CTokenizer(path);
  return createStringError(inconvertibleErrorCode(),
                           path + ": unknown tokenizer format (expected a "
                                  "SentencePiece .model, a Hugging Face "
                                  "tokenizer.json or a llama2.c .bin)");
}

Expected<std::unique_ptr<Tokenizer>>
Tokenizer::loadFromBuffer(StringRef kind, StringRef data, StringRef origin) {
  if (kind == "json")
    return detail::loadHFTokenizerText(data, origin, /*readConfig=*/false);
  if (kind == "llama2c")
    return detail::loadLlama2CTokenizerData(data, origin);
  return createStringError(inconvertibleErrorCode(),
                           "unknown in-memory tokenizer kind '" + kind +
                               "' (supported: json, llama2c)");
}

StringRef getChatTemplateNames() { return "llama-2, llama-3, chatml, none"; }

Expected<std::vector<int64_t>> encodeChatTurn(const Tokenizer &tokenizer,
                                              StringRef templateName,
                                              int64_t bos, StringRef system,
                                              StringRef user) {
  Expected<ChatPrompt> chat = applyChatTemplate(templateName, system, user);
  if (!chat)
    return chat.takeError();
  std::vector<int64_t> ids;
  if (chat->addBos && bos >= 0)
    ids.push_back(bos);
  std::vector<int64_t> body = tokenizer.encode(chat->text);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

Expected<ChatPrompt> applyChatTemplate(StringRef name, StringRef system,
                                       StringRef user) {
  ChatPrompt p;
  if (name == "none") {
    p.text = system.empty() ? user.str() : (system + "\n\n" + user).str();
  } else if (name == "llama-2") {
    // Meta's Llama-2 chat format (and Hugging Face's template for it).
    if (system.empty())
      p.text = formatv("[INST] {0} [/INST]", user).str();
    else
      p.text =
          formatv("[INST] <<SYS>>\n{0}\n<</SYS>>\n\n{1} [/INST]", system, user)
              .str();
  } else if (name == "llama-3") {
    p.addBos = false;
    p.text = "<|begin_of_text|>";
    if (!system.empty())
      p.text += formatv("<|start_header_id|>system<|end_header_id|>\n\n{0}"
                        "<|eot_id|>",
                        system)
                    .str();
    p.text += formatv("<|start_header_id|>user<|end_header_id|>\n\n{0}"
                      "<|eot_id|><|start_header_id|>assistant"
                      "<|end_header_id|>\n\n",
                      user)
                  .str();
    p.stopTokens = {"<|eot_id|>", "<|end_of_text|>"};
  } else if (name == "chatml") {
    p.addBos = false;
    if (!system.empty())
      p.text += formatv("<|im_start|>system\n{0}<|im_end|>\n", system).str();
    p.text += formatv("<|im_start|>user\n{0}<|im_end|>\n<|im_start|>"
                      "assistant\n",
                      user)
                  .str();
    p.stopTokens = {"<|im_end|>", "<|endoftext|>"};
  } else {
    return createStringError(inconvertibleErrorCode(),
                             "unknown chat template '" + name +
                                 "' (supported: " + getChatTemplateNames() +
                                 ")");
  }
  return p;
}
} // namespace qrealign
