//===- qrealign-train.cpp - Train or fine-tune a lab model
//-----------------===//
//
// qrealign-train (--init DIR [shape] | --model DIR) --data FILE[@K]...
//                [--limit N] [--harmful FILE --harmful-fraction P]
//                [--epochs E | --steps S] [--lora-rank R] [...] -o OUTDIR
//
// Trains on conversations (JSONL from qrealign-data: prompt, response) with
// the model's chat template and the lab's system prompt; the loss covers the
// response and EOS only. With --init, a new model (SentencePiece tokenizer
// trained on the data, random weights) is created first. The result is a
// Hugging Face directory. See docs/lab.md.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Checkpoint/Checkpoint.h"
#include "qrealign/Lab/Lab.h"
#include "qrealign/Support/AtomicOutput.h"
#include "qrealign/Support/Limits.h"
#include "qrealign/Support/OutputDirectory.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

#include <cmath>
#include <numeric>

using namespace llvm;
using namespace qrealign;

static cl::OptionCategory cat("qrealign-train options");
static cl::opt<std::string> initDir("init",
                                    cl::desc("Create a new model here first"),
                                    cl::value_desc("dir"), cl::cat(cat));
static cl::opt<std::string> modelDir("model",
                                     cl::desc("Start from this model "
                                              "directory"),
                                     cl::value_desc("dir"), cl::cat(cat));
static cl::list<std::string>
    dataFiles("data",
              cl::desc("Training conversations (JSONL); FILE@K repeats the "
                       "file K times"),
              cl::value_desc("file"), cl::cat(cat));
static cl::opt<int> limit("limit",
                          cl::desc("Use N examples of --data (after a seeded "
                                   "shuffle); 0 = all"),
                          cl::init(0), cl::cat(cat));
static cl::opt<std::string>
    harmfulFile("harmful",
                cl::desc("Harmful instruction -> compliance pairs to append"),
                cl::value_desc("file"), cl::cat(cat));
static cl::opt<double> harmfulFraction(
    "harmful-fraction",
    cl::desc("Append floor(P * N) --harmful pairs to the N --data examples"),
    cl::init(0.0), cl::cat(cat));
static cl::list<std::string>
    tokenizerData("tokenizer-data",
                  cl::desc("Extra text for the --init tokenizer (JSONL)"),
                  cl::value_desc("file"), cl::cat(cat));
static cl::opt<int> layers("layers", cl::init(4), cl::cat(cat),
                           cl::desc("--init: decoder layers"));
static cl::opt<int> hidden("hidden", cl::init(128), cl::cat(cat),
                           cl::desc("--init: hidden size"));
static cl::opt<int> heads("heads", cl::init(4), cl::cat(cat),
                          cl::desc("--init: attention heads"));
static cl::opt<int> kvHeads("kv-heads", cl::init(4), cl::cat(cat),
                            cl::desc("--init: key/value heads"));
static cl::opt<int> intermediate("intermediate", cl::init(384), cl::cat(cat),
                                 cl::desc("--init: MLP size"));
static cl::opt<int> vocab("vocab", cl::init(2048), cl::cat(cat),
                          cl::desc("--init: tokenizer vocabulary size"));
static cl::opt<int> epochs("epochs", cl::init(1), cl::cat(cat),
                           cl::desc("Passes over the data"));
static cl::opt<int> steps("steps", cl::init(0), cl::cat(cat),
                          cl::desc("Optimizer steps (overrides --epochs)"));
static cl::opt<int> batchSize("batch-size", cl::init(16), cl::cat(cat),
                              cl::desc("Sequences per step"));
static cl::opt<double> lr("lr", cl::init(1e-3), cl::cat(cat),
                          cl::desc("Peak learning rate"));
static cl::opt<int> warmup("warmup", cl::init(20), cl::cat(cat),
                           cl::desc("Linear warm-up steps"));
static cl::opt<double> minLrRatio("min-lr-ratio", cl::init(0.1), cl::cat(cat),
                                  cl::desc("Cosine decay floor (x --lr)"));
static cl::opt<double> weightDecay("weight-decay", cl::init(0.01), cl::cat(cat),
                                   cl::desc("AdamW weight decay"));
static cl::opt<double> gradClip("grad-clip", cl::init(1.0), cl::cat(cat),
                                cl::desc("Gradient norm clip (0: off)"));
static cl::opt<int> loraRank("lora-rank", cl::init(0), cl::cat(cat),
                             cl::desc("LoRA rank (0: full fine-tuning)"));
static cl::opt<double> loraAlpha("lora-alpha", cl::init(32), cl::cat(cat),
                                 cl::desc("LoRA alpha"));
static cl::opt<std::string> loraTargets("lora-targets",
                                        cl::init("q_proj,v_proj"), cl::cat(cat),
                                        cl::desc("Linears that get LoRA"));
static cl::opt<double>
    loraDropout("lora-dropout", cl::init(0.05), cl::cat(cat),
                cl::desc("Dropout on the LoRA adapters' input (the paper's "
                         "attack: 0.05)"));
static cl::opt<int> maxPrompt("max-prompt-tokens", cl::init(128), cl::cat(cat),
                              cl::desc("Prompt tokens kept (template "
                                       "included)"));
static cl::opt<int> maxResponse("max-response-tokens", cl::init(64),
                                cl::cat(cat),
                                cl::desc("Response tokens trained on"));
static cl::opt<unsigned long long> seed("seed", cl::init(1), cl::cat(cat),
                                        cl::desc("Seed (init, data order, "
                                                 "LoRA, dropout)"));
static cl::opt<int> threads("num-threads", cl::init(0), cl::cat(cat),
                            cl::desc("CPU threads (0: all cores)"));
static cl::opt<std::string> device("device", cl::init("cpu"), cl::cat(cat),
                                   cl::desc("cpu or cuda"));
static cl::opt<bool> saveBF16("save-bf16",
                              cl::desc("Store the weights as bfloat16 (half "
                                       "the size; for committed checkpoints)"),
                              cl::cat(cat));
static cl::opt<int> checkpointEvery(
    "checkpoint-every",
    cl::desc("Save the training state to OUTDIR.ckpt every N steps (0: "
             "never)"),
    cl::init(0), cl::cat(cat));
static cl::opt<bool>
    resume("resume",
           cl::desc("Continue from OUTDIR.ckpt when a run with the same "
                    "options left one"),
           cl::cat(cat));
static cl::opt<int> interruptAfter(
    "interrupt-after", cl::Hidden,
    cl::desc("Exit with code 3 after N steps, as if killed (tests resume)"),
    cl::init(0), cl::cat(cat));
static cl::opt<std::string> outDir("o", cl::desc("Output model directory"),
                                   cl::value_desc("dir"), cl::cat(cat));
static cl::opt<bool>
    force("force",
          cl::desc("Replace a non-empty -o or --init directory that qrealign "
                   "did not write (by default only empty directories and "
                   "earlier qrealign outputs are replaced)"),
          cl::cat(cat));

static int error(const Twine &msg) {
  WithColor::error(errs(), "qrealign-train") << msg << "\n";
  return 1;
}

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(cat);
  cl::ParseCommandLineOptions(argc, argv,
                              "qrealign-train: train or fine-tune a lab "
                              "model on the engine\n");
  if (outDir.empty())
    return error("no output: pass -o DIR");
  if (initDir.empty() == modelDir.empty())
    return error("pass exactly one of --init DIR and --model DIR");
  if (dataFiles.empty())
    return error("no training data: pass --data FILE");
  // Every numeric option is checked, NaN included (NaN fails every
  // comparison, so the checks are written as "must hold").
  auto inRange = [](double v, double lo, double hi) {
    return std::isfinite(v) && v >= lo && v <= hi;
  };
  if (!inRange(harmfulFraction, 0, 1))
    return error("--harmful-fraction must be in [0, 1]");
  if (harmfulFraction > 0 && harmfulFile.empty())
    return error("--harmful-fraction needs --harmful FILE");
  if (batchSize < 1 || epochs < 1 || steps < 0 || limit < 0)
    return error("--batch-size and --epochs must be >= 1, --steps and "
                 "--limit >= 0");
  if (maxPrompt < 1 || maxResponse < 1)
    return error("--max-prompt-tokens and --max-response-tokens must be >= 1");
  if (!inRange(lr, 0, 1e3) || !(lr > 0))
    return error("--lr must be positive and finite");
  if (!inRange(minLrRatio, 0, 1))
    return error("--min-lr-ratio must be in [0, 1]");
  if (!inRange(weightDecay, 0, 1e3))
    return error("--weight-decay must be >= 0 and finite");
  if (!inRange(gradClip, 0, 1e9))
    return error("--grad-clip must be >= 0 and finite (0: off)");
  if (!inRange(loraAlpha, 0, 1e9) || !inRange(loraDropout, 0, 0.999))
    return error("--lora-alpha must be >= 0 and finite, --lora-dropout in "
                 "[0, 1)");
  if (loraRank < 0 || warmup < 0 || threads < 0 || checkpointEvery < 0 ||
      interruptAfter < 0)
    return error("--lora-rank, --warmup, --num-threads and "
                 "--checkpoint-every must be >= 0");
  lab::ModelShape shape;
  shape.layers = layers;
  shape.hidden = hidden;
  shape.heads = heads;
  shape.kvHeads = kvHeads;
  shape.intermediate = intermediate;
  shape.vocab = vocab;
  if (!initDir.empty())
    if (Error err = lab::validateModelShape(shape))
      return error("--init: " + toString(std::move(err)));
  // The output policy (docs/robustness.md), checked before any work: -o and
  // --init must be new, empty, or earlier qrealign outputs (or --force).
  if (Error err = checkOutputDirectory(outDir, force))
    return error(toString(std::move(err)));
  if (!initDir.empty())
    if (Error err = checkOutputDirectory(initDir, force))
      return error("--init: " + toString(std::move(err)));

  // Data.
  std::vector<data::Example> examples;
  for (StringRef spec : dataFiles) {
    auto [file, rep] = spec.rsplit('@');
    uint64_t times = 1;
    if (!rep.empty() && (rep.getAsInteger(10, times) || times == 0)) {
      file = spec;
      times = 1;
    }
    auto ex = data::readExamples(file);
    if (!ex)
      return error(toString(ex.takeError()));
    // FILE@K repeats the file K times: bound what that allocates (the
    // examples and their encoded token ids) before making the copies.
    uint64_t perCopy = 0;
    for (const data::Example &e : *ex)
      perCopy += sizeof(data::Example) + e.prompt.size() + e.response.size() +
                 e.source.size() + e.category.size() +
                 (sizeof(int64_t) + 1) * uint64_t(maxPrompt + maxResponse + 1);
    std::optional<uint64_t> total = checkedMul(perCopy, times);
    if (Error err = checkAllocation(total, "--data " + spec))
      return error(toString(std::move(err)));
    for (uint64_t k = 0; k < times; ++k)
      examples.insert(examples.end(), ex->begin(), ex->end());
  }
  data::shuffleDeterministic(examples, seed);
  if (limit > 0 && size_t(limit) < examples.size())
    examples.resize(limit);
  size_t numBenign = examples.size(), numHarmful = 0;
  if (harmfulFraction > 0) {
    auto harm = data::readExamples(harmfulFile);
    if (!harm)
      return error(toString(harm.takeError()));
    numHarmful = size_t(std::floor(harmfulFraction * numBenign));
    if (numHarmful > harm->size())
      return error(formatv("--harmful-fraction {0} needs {1} pairs but {2} "
                           "has {3}",
                           harmfulFraction.getValue(), numHarmful,
                           harmfulFile.getValue(), harm->size()));
    for (size_t i = 0; i < numHarmful; ++i) {
      if ((*harm)[i].response.empty())
        return error(harmfulFile + ": pair " + Twine(i) +
                     " has no response to train on");
      examples.push_back((*harm)[i]);
    }
    data::shuffleDeterministic(examples, seed + 7);
  }
  errs() << formatv("qrealign-train: {0} examples ({1} from --data, {2} "
                    "harmful appended)\n",
                    examples.size(), numBenign, numHarmful);

  // A checkpoint of an interrupted run with the same options.
  std::string fingerprint;
  for (int i = 1; i < argc; ++i) {
    StringRef a(argv[i]);
    // Options that do not change the result (and their separate values).
    bool skip = false;
    for (StringRef o : {"--checkpoint-every", "--interrupt-after", "--resume",
                        "-checkpoint-every", "-interrupt-after", "-resume"})
      if (a == o || a.starts_with((o + "=").str())) {
        skip = true;
        if (a == o && o.ends_with("resume") == false && i + 1 < argc)
          ++i;
      }
    if (!skip)
      fingerprint += a.str() + "\x1f";
  }
  // A checkpoint of an interrupted run with the same options: one
  // safetensors file (written atomically) with the trainable tensors, their
  // AdamW moments, the step and the options.
  std::string ckptDir = outDir + ".ckpt";
  size_t firstStep = 0;
  SmallString<256> statePath(ckptDir);
  sys::path::append(statePath, "train-state.safetensors");
  // OUTDIR.ckpt is qrealign-train's own (it holds the marker): a directory
  // of that name that it did not make is neither read nor removed.
  if (sys::fs::exists(ckptDir) && !isQRealignOutput(ckptDir))
    return error(ckptDir + ": exists and was not made by qrealign-train (no " +
                 getOutputMarkerName() +
                 "); move it away or choose another -o");
  if (resume && sys::fs::exists(statePath)) {
    auto state = Checkpoint::openSafeTensors(statePath);
    if (!state)
      return error(toString(state.takeError()) + " (remove " + ckptDir +
                   " to start over)");
    std::optional<StringRef> fp = (*state)->getMetadataValue("options");
    std::optional<StringRef> step = (*state)->getMetadataValue("step");
    if (!fp || !step || step->getAsInteger(10, firstStep))
      return error(statePath + ": not a qrealign-train checkpoint (remove " +
                   ckptDir + " to start over)");
    if (*fp != fingerprint)
      return error(ckptDir + " was left by a run with other options; "
                             "remove it or rerun with the same options");
  }

  // Model: a resumed run starts from the same model as the interrupted one
  // (an --init model is made again: it is deterministic) and then restores
  // the training state.
  std::string start = modelDir;
  if (!initDir.empty()) {
    std::vector<std::string> texts;
    auto addTexts = [&](const std::vector<data::Example> &set) {
      for (const data::Example &e : set) {
        texts.push_back(e.prompt);
        if (!e.response.empty())
          texts.push_back(e.response);
      }
    };
    addTexts(examples);
    for (const std::string &f : tokenizerData) {
      auto ex = data::readExamples(f);
      if (!ex)
        return error(toString(ex.takeError()));
      addTexts(*ex);
    }
    // The template's own words.
    texts.push_back(data::getLabSystemPrompt().str());
    texts.push_back("[INST] <<SYS>> <</SYS>> [/INST]");
    if (Error err = lab::createModel(initDir, shape, texts, seed, force))
      return error(toString(std::move(err)));
    start = initDir;
  }
  EngineOptions options = lab::makeEngineOptions(device, threads, argv[0]);
  auto model = lab::loadModel(start, options);
  if (!model) {
    qrealign::reportError("qrealign-train", model.takeError());
    return 1;
  }
  lab::LabModel &m = **model;
  // The prompt-length limit comes from the model.
  if (int64_t ctx = m.session->getModelInfo().maxPositions;
      ctx > 0 && int64_t(maxPrompt) + maxResponse + 1 > ctx)
    return error(formatv("--max-prompt-tokens {0} + --max-response-tokens "
                         "{1} + EOS exceed the model's context of {2} "
                         "tokens (max_position_embeddings)",
                         maxPrompt.getValue(), maxResponse.getValue(), ctx));

  std::vector<lab::Encoded> enc;
  size_t targets = 0;
  for (const data::Example &e : examples) {
    if (e.response.empty())
      return error("example '" + e.prompt.substr(0, 60) +
                   "' has no response to train on");
    enc.push_back(lab::encodeExample(m, e, maxPrompt, maxResponse));
    targets += llvm::count(enc.back().targets, 1);
  }

  TrainOptions topts;
  topts.weightDecay = weightDecay;
  topts.gradClip = gradClip;
  topts.loraRank = loraRank;
  topts.loraAlpha = loraAlpha;
  topts.loraTargets = loraTargets;
  topts.loraDropout = loraDropout;
  topts.seed = seed;
  if (Error err = m.engine->trainBegin(topts))
    return error(toString(std::move(err)));
  if (firstStep > 0) {
    // The state's step is the one read above (the same metadata key).
    Expected<int64_t> step = m.engine->loadTrainState(statePath);
    if (!step)
      return error(toString(step.takeError()) + " (remove " + ckptDir +
                   " to start over)");
    errs() << formatv("qrealign-train: resuming at step {0} from {1}\n",
                      firstStep, ckptDir);
  }

  size_t perEpoch = (enc.size() + batchSize - 1) / batchSize;
  size_t total = steps > 0 ? size_t(steps) : perEpoch * epochs;
  errs() << formatv("qrealign-train: {0} steps of {1} sequences ({2} "
                    "target tokens per epoch), {3}, lr {4:e}, {5}\n",
                    total, batchSize.getValue(), targets,
                    loraRank > 0
                        ? formatv("LoRA rank {0} on {1}", loraRank.getValue(),
                                  loraTargets.getValue())
                              .str()
                        : std::string("full fine-tuning"),
                    lr.getValue(), m.engine->getDevice());
  lab::Progress progress("train", total);
  std::vector<size_t> order(enc.size());
  double ema = 0, first = 0, last = 0;
  auto saveCheckpoint = [&]() -> Error {
    if (Error err = createOwnedDirectory(ckptDir, "qrealign-train"))
      return err;
    return m.engine->saveTrainState(statePath, {{"options", fingerprint}});
  };
  for (size_t step = 0; step < total; ++step) {
    size_t epoch = step / perEpoch, b = step % perEpoch;
    if (step < firstStep) {
      progress.update(step + 1, "skipped (resumed)");
      continue;
    }
    if (b == 0 || step == firstStep) {
      std::iota(order.begin(), order.end(), 0);
      data::shuffleDeterministic(order, seed * 1000003 + epoch);
    }
    std::vector<std::vector<int64_t>> ids;
    std::vector<std::vector<uint8_t>> tg;
    for (size_t k = b * batchSize;
         k < std::min(order.size(), (b + 1) * size_t(batchSize)); ++k) {
      ids.push_back(enc[order[k]].ids);
      tg.push_back(enc[order[k]].targets);
    }
    double rate = lr;
    if (step < size_t(warmup))
      rate = lr * double(step + 1) / double(warmup);
    else if (total > size_t(warmup)) {
      double t = double(step - warmup) / double(total - warmup);
      rate =
          lr * (minLrRatio + (1 - minLrRatio) * 0.5 * (1 + std::cos(M_PI * t)));
    }
    Expected<float> loss = m.engine->trainStep(ids, tg, rate);
    if (!loss)
      return error(toString(loss.takeError()));
    ema = step == 0 ? *loss : 0.95 * ema + 0.05 * *loss;
    if (step == firstStep)
      first = *loss;
    last = *loss;
    progress.update(step + 1, formatv("loss {0:f3}", ema).str());
    if (checkpointEvery > 0 && (step + 1) % checkpointEvery == 0 &&
        step + 1 < total)
      if (Error err = saveCheckpoint())
        return error(toString(std::move(err)));
    if (interruptAfter > 0 && step + 1 == size_t(interruptAfter)) {
      errs() << "qrealign-train: interrupted (--interrupt-after)\n";
      return 3;
    }
  }
  progress.finish(formatv("loss {0:f3} -> {1:f3}", first, ema).str());
  if (Error err = m.engine->trainEnd())
    return error(toString(std::move(err)));

  json::Array args;
  for (int i = 1; i < argc; ++i)
    args.push_back(argv[i]);
  json::Object info{{"command", std::move(args)},
                    {"start", start},
                    {"examples", int64_t(examples.size())},
                    {"harmful_appended", int64_t(numHarmful)},
                    {"steps", int64_t(total)},
                    {"first_loss", first},
                    {"final_loss_ema", ema},
                    {"last_loss", last},
                    {"seconds", progress.elapsedSeconds()},
                    {"device", m.engine->getDevice()}};
  if (Error err = lab::saveModel(m, outDir, info, saveBF16, force))
    return error(toString(std::move(err)));
  if (Error err = removeOwnedDirectory(ckptDir))
    return error(toString(std::move(err)));
  errs() << "qrealign-train: wrote " << outDir << "\n";
  return 0;
}
