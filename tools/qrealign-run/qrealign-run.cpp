//===- qrealign-run.cpp - Generate text with a qrealign model -------------===//
//
// qrealign-run MODEL [--prompt TEXT | --prompts-file FILE] [options]
//
// MODEL is qrealign IR (from qrealign-import, possibly transformed by
// qrealign-opt, e.g. with quantization schemes that the engine fake-quantizes)
// or a checkpoint that is imported on the fly (a Hugging Face directory or a
// llama2.c .bin). Prompts are rendered with a built-in chat template,
// tokenized, and decoded greedily in batches on the libtorch engine (loaded
// with dlopen). Throughput goes to stderr, completions to stdout.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/ModelConfig.h"
#include "qrealign/Compiled/CompiledModel.h"
#include "qrealign/Engine/Engine.h"
#include "qrealign/Engine/Program.h"
#include "qrealign/Session/ModelSession.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/InputFile.h"
#include "qrealign/Support/Statistics.h"
#include "qrealign/Tokenizer/Tokenizer.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "qrealign/Dialect/QRealign/IR/ParamEnvironment.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <functional>

using namespace llvm;

static cl::OptionCategory cat("qrealign-run options");
static cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                                      cl::desc("<model.mlir | model dir | "
                                               "model.bin>"),
                                      cl::cat(cat));
static cl::list<std::string> prompts("prompt",
                                     cl::desc("A prompt (repeatable; '' "
                                              "generates from BOS alone)"),
                                     cl::cat(cat));
static cl::opt<std::string>
    promptsFile("prompts-file",
                cl::desc("File with one prompt per line (blank lines are "
                         "skipped)"),
                cl::value_desc("file"), cl::cat(cat));
static cl::opt<std::string> systemPrompt("system",
                                         cl::desc("System prompt for chat "
                                                  "templates"),
                                         cl::cat(cat));
static cl::opt<std::string>
    chatTemplate("chat-template",
                 cl::desc("llama-2, llama-3, chatml or none (default: the "
                          "module's qrealign.chat_template)"),
                 cl::cat(cat));
static cl::opt<int> maxNewTokens("max-new-tokens",
                                 cl::desc("Tokens to generate per prompt"),
                                 cl::init(128), cl::cat(cat));
static cl::opt<int> batchSize("batch-size",
                              cl::desc("Prompts decoded together"), cl::init(8),
                              cl::cat(cat));
static cl::opt<std::string>
    backend("backend",
            cl::desc("engine (the libtorch engine, default) or compiled (the "
                     "model's @prefill and @decode, with an explicit KV cache, "
                     "lowered by qrealign-lower-to-cpu and JIT-compiled; each "
                     "prompt runs alone)"),
            cl::init("engine"), cl::cat(cat));
static cl::opt<std::string> objectPath(
    "object",
    cl::desc("With --backend compiled: run this object file, which "
             "qrealign-compile wrote from the model, instead of compiling "
             "the model (its parameters are mapped from the files its "
             "manifest names; --params applies to them too)"),
    cl::value_desc("file"), cl::cat(cat));
static cl::opt<std::string> device("device", cl::desc("cpu or cuda"),
                                   cl::init("cpu"), cl::cat(cat));
static cl::opt<int> threads("num-threads",
                            cl::desc("CPU intra-op threads (default 1)"),
                            cl::init(1), cl::cat(cat));
static cl::opt<std::string> tokenizerPath("tokenizer",
                                          cl::desc("Tokenizer file (default: "
                                                   "qrealign.tokenizer)"),
                                          cl::value_desc("file"), cl::cat(cat));
static cl::opt<bool> dumpProgram(
    "dump-program",
    cl::desc("Print the engine program the model lowers to and exit "
             "(no engine is loaded, no prompt is needed)"),
    cl::cat(cat));
static cl::opt<std::string> dumpFunction(
    "function",
    cl::desc("With --dump-program: lower this function of the module (a "
             "function program, such as a calibration function) instead of "
             "@forward"),
    cl::value_desc("name"), cl::cat(cat));
static cl::list<std::string>
    paramScopes("params",
                cl::desc("File of a parameter scope, replacing the module's "
                         "qrealign.params entry (repeatable)"),
                cl::value_desc("scope=path"), cl::cat(cat));
static cl::opt<std::string>
    outputFormat("format",
                 cl::desc("Output: text (completions) or "
                          "jsonl (prompt, ids, completion)"),
                 cl::init("text"), cl::cat(cat));
static cl::opt<bool> printIds("print-ids",
                              cl::desc("Print generated token ids after each "
                                       "completion (text format)"),
                              cl::cat(cat));
static cl::opt<bool> promptIds(
    "prompt-ids",
    cl::desc("Prompts are whitespace-separated token ids (no tokenizer, no "
             "template, no BOS added); completions are printed as ids"),
    cl::cat(cat));
static cl::opt<bool> tokenizeOnly(
    "tokenize-only",
    cl::desc("Print the token ids of each rendered prompt and exit (no "
             "engine)"),
    cl::cat(cat));
static cl::opt<int64_t> maxContext(
    "max-context",
    cl::desc("Longest sequence (prompt + generated tokens); default: the "
             "model's max_position_embeddings (qrealign.max_positions), or "
             "4096 when the model records none"),
    cl::init(0), cl::cat(cat));
static cl::opt<std::string> logitsPath(
    "logits",
    cl::desc("Also write the logits of each prompt's last token, before "
             "generation, to this file (NumPy .npy, f32 [prompts, vocab])"),
    cl::value_desc("file"), cl::cat(cat));
static cl::opt<int> benchForward(
    "bench-forward",
    cl::desc("Time N forward passes (last-token logits) over all prompts as "
             "one batch, after one warm-up pass; print a JSON line with the "
             "median seconds and page faults per pass, and exit"),
    cl::init(0), cl::value_desc("N"), cl::cat(cat));
static cl::opt<bool> noEos("ignore-eos",
                           cl::desc("Do not stop at end-of-sequence tokens"),
                           cl::cat(cat));
static cl::opt<std::string> output("o", cl::desc("Output file (default: -)"),
                                   cl::init("-"), cl::value_desc("file"),
                                   cl::cat(cat));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-run") << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-run: generate text with a qrealign "
                              "model on the libtorch engine\n");
  if (maxNewTokens < 0)
    return error("--max-new-tokens must be >= 0");
  if (maxContext < 0 || maxContext > qrealign::ModelLimits::kMaxPositions)
    return error("--max-context must be in [1, " +
                 Twine(qrealign::ModelLimits::kMaxPositions) + "]");
  if (batchSize < 1)
    return error("--batch-size must be >= 1");
  if (outputFormat != "text" && outputFormat != "jsonl")
    return error("--format must be text or jsonl");
  if (backend != "engine" && backend != "compiled")
    return error("--backend must be engine or compiled, got '" + backend + "'");
  if (backend == "compiled" && (benchForward > 0 || device != "cpu"))
    return error("--backend compiled runs on the CPU and has no "
                 "--bench-forward yet");
  if (!objectPath.empty() && backend != "compiled")
    return error("--object needs --backend compiled");

  // Prompts.
  std::vector<std::string> texts(prompts.begin(), prompts.end());
  if (!promptsFile.empty()) {
    Expected<std::unique_ptr<MemoryBuffer>> buf =
        qrealign::readRegularFileOrStdin(promptsFile);
    if (!buf)
      return error(toString(buf.takeError()));
    SmallVector<StringRef> lines;
    (*buf)->getBuffer().split(lines, '\n');
    for (StringRef l : lines)
      if (!l.trim().empty())
        texts.push_back(l.rtrim("\r").str());
  }
  if (texts.empty() && !dumpProgram)
    return error("no prompt: pass --prompt TEXT or --prompts-file FILE");

  // The model: IR, or a checkpoint imported on the fly.
  qrealign::SessionOptions sessionOptions;
  sessionOptions.paramScopes.assign(paramScopes.begin(), paramScopes.end());
  sessionOptions.tokenizerPath = tokenizerPath;
  sessionOptions.chatTemplate = chatTemplate;
  sessionOptions.loadTokenizer = !promptIds && !dumpProgram;
  // With --num-threads, the parser's thread pool stays unstarted too: the
  // process runs the threads it was asked for.
  sessionOptions.multithreaded = threads <= 0;
  sessionOptions.toolName = "qrealign-run";
  // The compiled backend binds the stored parameters: no engine program
  // (which would dequantize every packed weight to f32).
  sessionOptions.engineProgram = backend != "compiled" || dumpProgram;
  auto session = qrealign::ModelSession::open(modelPath, sessionOptions);
  if (!session) {
    qrealign::reportError("qrealign-run", session.takeError());
    return 1;
  }
  if (dumpProgram) {
    if (dumpFunction.empty()) {
      qrealign::printProgram((*session)->getProgram(), outs());
      return 0;
    }
    mlir::qrealign::ParamEnvironment env;
    env.inputDir = llvm::sys::path::parent_path(modelPath).str();
    if (llvm::Error err = env.addScopeFiles(paramScopes)) {
      qrealign::reportError("qrealign-run", std::move(err));
      return 1;
    }
    auto program =
        qrealign::lowerToProgram((*session)->getModule(), env, dumpFunction);
    if (failed(program))
      return 1;
    qrealign::printProgram(**program, outs());
    return 0;
  }
  const qrealign::ModelInfo &info = (*session)->getModelInfo();
  const qrealign::Tokenizer *tokenizer = (*session)->getTokenizer();
  std::vector<int64_t> eos((*session)->getStopIds().begin(),
                           (*session)->getStopIds().end());

  std::vector<std::vector<int64_t>> inputs;
  if (promptIds) {
    for (const std::string &text : texts) {
      SmallVector<StringRef> words;
      StringRef(text).split(words, ' ', -1, /*KeepEmpty=*/false);
      std::vector<int64_t> ids;
      for (StringRef w : words) {
        int64_t id;
        if (w.trim().getAsInteger(10, id))
          return error("--prompt-ids: '" + w + "' is not a token id");
        ids.push_back(id);
      }
      if (ids.empty())
        return error("--prompt-ids: empty prompt");
      inputs.push_back(std::move(ids));
    }
  } else {
    for (const std::string &text : texts) {
      auto ids = (*session)->encodeChat(systemPrompt, text);
      if (!ids)
        return error(toString(ids.takeError()));
      if (ids->empty())
        return error("prompt '" + text +
                     "' encodes to no tokens and the "
                     "model has no BOS token");
      inputs.push_back(std::move(*ids));
    }
  }
  if (noEos)
    eos.clear();

  if (tokenizeOnly) {
    Error err = qrealign::writeFileAtomically(output, [&](raw_ostream &os) {
      for (const std::vector<int64_t> &ids : inputs) {
        for (auto [j, t] : llvm::enumerate(ids))
          os << (j ? " " : "") << t;
        os << "\n";
      }
      return Error::success();
    });
    if (err)
      return error(toString(std::move(err)));
    return 0;
  }

  // The prompt-length limit comes from the model: a prompt longer than its
  // context is an error (the engine's attention is quadratic in it, and
  // positions past the trained range are meaningless); generation stops at
  // the context's end.
  int64_t contextLen = maxContext > 0 ? int64_t(maxContext) : info.maxPositions;
  if (maxContext > 0 && info.maxPositions > 0 && maxContext > info.maxPositions)
    return error(formatv("--max-context {0} exceeds the model's context of "
                         "{1} tokens ({2})",
                         maxContext.getValue(), info.maxPositions,
                         info.slidingWindow > 0 &&
                                 info.maxPositions == info.slidingWindow
                             ? "its sliding window"
                             : "max_position_embeddings"));
  StringRef contextOrigin =
      maxContext > 0 ? "--max-context"
      : info.slidingWindow > 0 && info.maxPositions == info.slidingWindow
          ? "the sliding window, beyond which full attention is not exact"
          : "max_position_embeddings";
  if (contextLen <= 0) {
    contextLen = 4096;
    contextOrigin = "the default without max_position_embeddings; set "
                    "--max-context";
  }
  for (auto [i, ids] : llvm::enumerate(inputs))
    if (int64_t(ids.size()) > contextLen)
      return error(formatv("prompt {0} has {1} tokens, more than the model's "
                           "context of {2} ({3})",
                           i + 1, ids.size(), contextLen, contextOrigin));

  // The backend: the libtorch engine, or the compiled model.
  using Rows = std::vector<std::vector<float>>;
  std::function<Expected<Rows>(ArrayRef<std::vector<int64_t>>)> forward;
  std::function<Expected<qrealign::GenerateResult>(
      ArrayRef<std::vector<int64_t>>, int, ArrayRef<int64_t>)>
      generate;
  std::string buildInfo, deviceName;
  int64_t vocab = 0;
  std::unique_ptr<qrealign::Engine> engineHolder;
  std::unique_ptr<qrealign::CompiledModel> compiledHolder;
  auto t0 = std::chrono::steady_clock::now();
  if (backend == "compiled") {
    llvm::Expected<std::unique_ptr<qrealign::CompiledModel>> compiled = nullptr;
    if (objectPath.empty()) {
      compiled = qrealign::CompiledModel::create((*session)->getModule(),
                                                 (*session)->getProgram());
    } else {
      // The object is the model; the IR gives its tokenizer and template,
      // so both must be of the same vocabulary.
      mlir::qrealign::ParamEnvironment scopes;
      if (Error err = scopes.addScopeFiles(
              std::vector<std::string>(paramScopes.begin(), paramScopes.end())))
        return error(toString(std::move(err)));
      compiled = qrealign::CompiledModel::load(objectPath, scopes.scopeFiles);
      auto forwardFn =
          (*session)->getModule().lookupSymbol<mlir::func::FuncOp>("forward");
      auto logits =
          forwardFn && forwardFn.getNumResults()
              ? dyn_cast<mlir::RankedTensorType>(forwardFn.getResultTypes()[0])
              : nullptr;
      int64_t modelVocab = logits && logits.getRank() == 3
                               ? logits.getDimSize(2)
                               : mlir::ShapedType::kDynamic;
      if (compiled && (*compiled)->getVocabSize() != modelVocab)
        return error(formatv("{0} computes logits over {1} tokens, {2} over "
                             "{3}: compile the object from this model",
                             objectPath, (*compiled)->getVocabSize(), modelPath,
                             modelVocab));
    }
    if (!compiled)
      return error(toString(compiled.takeError()));
    compiledHolder = std::move(*compiled);
    qrealign::CompiledModel *m = compiledHolder.get();
    forward = [m](ArrayRef<std::vector<int64_t>> b) { return m->forward(b); };
    generate = [m](ArrayRef<std::vector<int64_t>> b, int n,
                   ArrayRef<int64_t> e) { return m->generate(b, n, e); };
    buildInfo = objectPath.empty() ? "compiled (qrealign-lower-to-cpu, JIT)"
                                   : "compiled (object " + objectPath + ")";
    // "cuda:sm_90" for an object compiled with --gpu.
    deviceName = m->getDevice().empty() ? std::string("cpu")
                 : m->getDevice() == qrealign::kEmulatedGPU
                     ? std::string("cpu (the GPU mapping emulated)")
                     : m->getDevice().str();
    vocab = m->getVocabSize();
  } else {
    qrealign::EngineOptions options;
    options.device = device;
    options.numThreads = threads;
    options.executablePath = argv[0];
    auto created = (*session)->createEngine(options);
    if (!created)
      return error(toString(created.takeError()));
    engineHolder = std::move(*created);
    qrealign::Engine *e = engineHolder.get();
    forward = [e](ArrayRef<std::vector<int64_t>> b) { return e->forward(b); };
    generate = [e](ArrayRef<std::vector<int64_t>> b, int n,
                   ArrayRef<int64_t> eosIds) {
      return e->generate(b, n, eosIds);
    };
    buildInfo = e->getBuildInfo();
    deviceName = e->getDevice();
    vocab = e->getVocabSize();
  }
  auto *engine = &engineHolder;
  double loadSeconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();

  if (benchForward > 0) {
    auto faults = [] {
      struct rusage u;
      getrusage(RUSAGE_SELF, &u);
      return std::make_pair(u.ru_minflt, u.ru_majflt);
    };
    std::vector<double> seconds;
    long minor = 0, major = 0;
    for (int run = 0; run <= benchForward; ++run) {
      auto before = faults();
      auto t = std::chrono::steady_clock::now();
      auto rows = (*engine)->forward(inputs);
      if (!rows)
        return error(toString(rows.takeError()));
      double dt =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t)
              .count();
      auto after = faults();
      if (run == 0)
        continue; // warm-up
      seconds.push_back(dt);
      minor += after.first - before.first;
      major += after.second - before.second;
    }
    double median = qrealign::quantile(seconds, 0.5);
    json::Array runs;
    for (double s : seconds)
      runs.push_back(s);
    // Threads of the process now (Linux): what --num-threads promises.
    int64_t numThreads = 0;
    std::error_code ec;
    for (sys::fs::directory_iterator it("/proc/self/task", ec), end;
         !ec && it != end; it.increment(ec))
      ++numThreads;
    outs() << json::Value(json::Object{
                  {"device", (*engine)->getDevice()},
                  {"batch", int64_t(inputs.size())},
                  {"threads", numThreads},
                  {"median_s", median},
                  {"runs_s", std::move(runs)},
                  {"minor_faults_per_pass", double(minor) / benchForward},
                  {"major_faults_per_pass", double(major) / benchForward}})
           << "\n";
    return 0;
  }

  if (!logitsPath.empty()) {
    std::vector<std::vector<float>> logits;
    for (size_t from = 0; from < inputs.size(); from += batchSize) {
      size_t to = std::min(inputs.size(), from + size_t(batchSize));
      auto rows = forward(ArrayRef(inputs).slice(from, to - from));
      if (!rows)
        return error(toString(rows.takeError()));
      for (auto &row : *rows)
        logits.push_back(std::move(row));
    }
    Error err = qrealign::writeFileAtomically(logitsPath, [&](raw_ostream &os) {
      // NumPy format 1.0: magic, header length, a dict padded to 64.
      std::string header = formatv("{{'descr': '<f4', 'fortran_order': "
                                   "False, 'shape': ({0}, {1}), }",
                                   logits.size(), vocab)
                               .str();
      size_t total = 10 + header.size() + 1;
      header.append((64 - total % 64) % 64, ' ');
      header += '\n';
      os << "\x93NUMPY" << char(1) << char(0);
      uint16_t len = header.size();
      os << char(len & 0xff) << char(len >> 8) << header;
      for (const auto &row : logits)
        os.write(reinterpret_cast<const char *>(row.data()),
                 row.size() * sizeof(float));
      return Error::success();
    });
    if (err)
      return error(toString(std::move(err)));
  }

  std::vector<std::vector<int64_t>> outputs;
  qr_generate_stats total{};
  size_t numBatches = (inputs.size() + batchSize - 1) / batchSize;
  bool warnedContext = false;
  auto start = std::chrono::steady_clock::now();
  for (size_t b = 0; b < numBatches; ++b) {
    size_t from = b * batchSize,
           to = std::min(inputs.size(), from + size_t(batchSize));
    size_t longest = 0;
    for (size_t k = from; k < to; ++k)
      longest = std::max(longest, inputs[k].size());
    int newTokens =
        int(std::min<int64_t>(maxNewTokens, contextLen - int64_t(longest)));
    if (newTokens < maxNewTokens && !warnedContext) {
      WithColor::note(errs(), "qrealign-run")
          << formatv("generation stops at the {0}-token context ({1})\n",
                     contextLen, contextOrigin);
      warnedContext = true;
    }
    auto result =
        generate(ArrayRef(inputs).slice(from, to - from), newTokens, eos);
    if (!result)
      return error(toString(result.takeError()));
    for (auto &t : result->tokens)
      outputs.push_back(std::move(t));
    total.prefill_seconds += result->stats.prefill_seconds;
    total.decode_seconds += result->stats.decode_seconds;
    total.prompt_tokens += result->stats.prompt_tokens;
    total.generated_tokens += result->stats.generated_tokens;
    if (numBatches > 1) {
      double elapsed = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      double eta = elapsed / (b + 1) * (numBatches - b - 1);
      errs() << formatv("[batch {0}/{1}] {2} prompts, {3:f1} s elapsed, ETA "
                        "{4:f1} s\n",
                        b + 1, numBatches, to, elapsed, eta);
    }
  }

  Error err = qrealign::writeFileAtomically(output, [&](raw_ostream &os) {
    for (size_t i = 0; i < outputs.size(); ++i) {
      std::string completion;
      if (tokenizer) {
        completion = tokenizer->decode(outputs[i]);
      } else {
        for (auto [j, t] : llvm::enumerate(outputs[i]))
          completion += (j ? " " : "") + std::to_string(t);
      }
      if (outputFormat == "jsonl") {
        json::Array ids;
        for (int64_t t : outputs[i])
          ids.push_back(t);
        os << json::Value(json::Object{{"prompt", texts[i]},
                                       {"ids", std::move(ids)},
                                       {"completion", completion}})
           << "\n";
        continue;
      }
      if (outputs.size() > 1)
        os << "--- [" << i << "] " << texts[i] << "\n";
      os << completion << "\n";
      if (printIds) {
        os << "ids:";
        for (int64_t t : outputs[i])
          os << " " << t;
        os << "\n";
      }
    }
    return Error::success();
  });
  if (err)
    return error(toString(std::move(err)));
  double seconds = total.prefill_seconds + total.decode_seconds;
  errs() << formatv("qrealign-run: {0} on {1}; {2} prompt(s), {3} prompt "
                    "tokens, {4} generated in {5:f3} s: {6:f1} tokens/s "
                    "(prefill {7:f3} s, engine load {8:f2} s)\n",
                    buildInfo, deviceName, inputs.size(), total.prompt_tokens,
                    total.generated_tokens, seconds,
                    seconds > 0 ? total.generated_tokens / seconds : 0.0,
                    total.prefill_seconds, loadSeconds);
  return 0;
}
