//===- CompressedTensors.cpp - compressed-tensors quantization configs ----===//

#include "qrealign/Checkpoint/CompressedTensors.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Regex.h"

#include <algorithm>

using namespace llvm;

namespace qrealign {
static Error fail(const Twine &msg) {
  return createStringError(inconvertibleErrorCode(), msg);
}

Expected<StringRef> CTScheme::getFormat() const {
  bool weights = weightBits == 4 || weightBits == 8;
  if (weights && actBits == 0)
    return kPackQuantized;
  if (weights && (actBits == 4 || actBits == 8))
    return kIntQuantized;
  return fail(formatv("W{0}A{1} has no compressed-tensors format that "
                      "qrealign writes (pack-quantized holds weight-only 4 "
                      "and 8 bits, int-quantized 4- or 8-bit weights with "
                      "4- or 8-bit activations)",
                      weightBits, actBits ? actBits : 16));
}

json::Object CTScheme::toJSON(std::vector<std::string> targets) const {
  json::Object weights{
      {"num_bits", weightBits},
      {"type", "int"},
      {"symmetric", weightSymmetric},
      {"strategy", groupSize ? "group" : "channel"},
      {"group_size", groupSize ? json::Value(groupSize) : json::Value(nullptr)},
      {"dynamic", false},
      {"actorder", nullptr}};
  json::Value input = nullptr;
  if (actBits)
    input = json::Object{{"num_bits", actBits},       {"type", "int"},
                         {"symmetric", actSymmetric}, {"strategy", "token"},
                         {"group_size", nullptr},     {"dynamic", true}};
  json::Array t;
  for (std::string &s : targets)
    t.push_back(std::move(s));
  return json::Object{{"weights", std::move(weights)},
                      {"input_activations", std::move(input)},
                      {"output_activations", nullptr},
                      {"targets", std::move(t)}};
}

/// compressed-tensors' matching of one target or ignore entry against a
/// linear module's name.
static Expected<bool> matches(StringRef target, StringRef name) {
  if (target == "Linear")
    return true;
  if (target.consume_front("re:")) {
    // Python's re.match: anchored at the start only.
    Regex re(("^(" + target + ")").str());
    std::string err;
    if (!re.isValid(err))
      return fail("regular expression '" + target + "': " + err);
    return re.match(name);
  }
  return target == name;
}

Expected<const CTGroup *> CompressedTensorsConfig::match(StringRef name) const {
  for (const std::string &i : ignore) {
    Expected<bool> m = matches(i, name);
    if (!m)
      return m.takeError();
    if (*m)
      return nullptr;
  }
  const CTGroup *found = nullptr;
  for (const CTGroup &g : groups)
    for (const std::string &t : g.targets) {
      Expected<bool> m = matches(t, name);
      if (!m)
        return m.takeError();
      if (!*m)
        continue;
      if (found && found != &g)
        return fail("module '" + name + "' is targeted by config groups '" +
                    found->name + "' and '" + g.name + "'");
      found = &g;
    }
  return found;
}

json::Object CompressedTensorsConfig::toJSON() const {
  json::Object groupsJSON;
  for (const CTGroup &g : groups)
    groupsJSON[g.name] = g.scheme.toJSON(g.targets);
  json::Array ignoreJSON;
  for (const std::string &i : ignore)
    ignoreJSON.push_back(i);
  return json::Object{{"quant_method", "compressed-tensors"},
                      {"format", format},
                      {"quantization_status", "compressed"},
                      {"config_groups", std::move(groupsJSON)},
                      {"ignore", std::move(ignoreJSON)},
                      {"kv_cache_scheme", nullptr},
                      {"sparsity_config", nullptr}};
}

namespace {
/// Reads one JSON object with located errors ("FILE: KEY: why").
struct Reader {
  StringRef origin;
  std::string path;

  Error error(const Twine &msg) const {
    return fail(origin + ": " + path + ": " + msg);
  }
  Error error(StringRef key, const Twine &msg) const {
    return fail(origin + ": " + path + "." + key + ": " + msg);
  }
  bool isNull(const json::Object &o, StringRef key) const {
    const json::Value *v = o.get(key);
    return !v || v->getAsNull();
  }
  Expected<int64_t> integer(const json::Object &o, StringRef key) const {
    const json::Value *v = o.get(key);
    std::optional<int64_t> i = v ? v->getAsInteger() : std::nullopt;
    if (!i)
      return error(key, "expected an integer");
    return *i;
  }
  Expected<bool> boolean(const json::Object &o, StringRef key,
                         bool defaultValue) const {
    const json::Value *v = o.get(key);
    if (!v || v->getAsNull())
      return defaultValue;
    std::optional<bool> b = v->getAsBoolean();
    if (!b)
      return error(key, "expected true or false");
    return *b;
  }
  Expected<StringRef> string(const json::Object &o, StringRef key) const {
    const json::Value *v = o.get(key);
    std::optional<StringRef> s = v ? v->getAsString() : std::nullopt;
    if (!s)
      return error(key, "expected a string");
    return *s;
  }
  Expected<std::vector<std::string>> strings(const json::Object &o,
                                             StringRef key) const {
    std::vector<std::string> out;
    const json::Value *v = o.get(key);
    if (!v || v->getAsNull())
      return out;
    const json::Array *a = v->getAsArray();
    if (!a)
      return error(key, "expected an array of strings");
    for (const json::Value &e : *a) {
      std::optional<StringRef> s = e.getAsString();
      if (!s)
        return error(key, "expected an array of strings");
      out.push_back(s->str());
    }
    return out;
  }
};
} // namespace

/// `weights` or `input_activations` of a config group.
static Error parseArgs(const Reader &r, const json::Object &o, bool weights,
                       CTScheme &scheme) {
  Expected<int64_t> bits = r.integer(o, "num_bits");
  if (!bits)
    return bits.takeError();
  Expected<StringRef> type = r.string(o, "type");
  if (!type)
    return type.takeError();
  if (*type != "int")
    return r.error("type", "'" + *type + "' is not supported (int only)");
  Expected<bool> symmetric = r.boolean(o, "symmetric", true);
  if (!symmetric)
    return symmetric.takeError();
  Expected<bool> dynamic = r.boolean(o, "dynamic", false);
  if (!dynamic)
    return dynamic.takeError();
  Expected<StringRef> strategy = r.string(o, "strategy");
  if (!strategy)
    return strategy.takeError();
  if (!weights) {
    if (*bits != 4 && *bits != 8)
      return r.error("num_bits", formatv("{0}-bit input activations are not "
                                         "supported (4 or 8)",
                                         *bits));
    if (*strategy != "token" || !*dynamic)
      return r.error("strategy", "input activations are supported with "
                                 "dynamic per-token ranges only (strategy "
                                 "\"token\", dynamic true), got '" +
                                     *strategy + "'");
    scheme.actBits = int(*bits);
    scheme.actSymmetric = *symmetric;
    return Error::success();
  }
  if (*bits != 4 && *bits != 8)
    return r.error(
        "num_bits",
        formatv("{0}-bit weights are not supported (4 or 8)", *bits));
  if (*dynamic)
    return r.error("dynamic", "weights must have static ranges");
  if (!r.isNull(o, "actorder"))
    return r.error("actorder", "activation ordering (g_idx) is not supported");
  scheme.weightBits = int(*bits);
  scheme.weightSymmetric = *symmetric;
  if (*strategy == "channel") {
    scheme.groupSize = 0;
  } else if (*strategy == "group") {
    Expected<int64_t> g = r.integer(o, "group_size");
    if (!g)
      return g.takeError();
    if (*g <= 0)
      return r.error("group_size", formatv("must be positive, got {0}", *g));
    scheme.groupSize = *g;
  } else {
    return r.error("strategy",
                   "'" + *strategy + "' is not supported (channel or group)");
  }
  return Error::success();
}

Expected<std::optional<CompressedTensorsConfig>>
parseCompressedTensorsConfig(const json::Object &config, StringRef origin) {
  const json::Value *v = config.get("quantization_config");
  if (!v || v->getAsNull())
    return std::nullopt;
  Reader r{origin, "quantization_config"};
  const json::Object *qc = v->getAsObject();
  if (!qc)
    return r.error("expected an object");
  Expected<StringRef> method = r.string(*qc, "quant_method");
  if (!method)
    return method.takeError();
  if (*method != "compressed-tensors")
    return r.error("quant_method", "'" + *method +
                                       "' is not supported (qrealign reads "
                                       "compressed-tensors)");
  CompressedTensorsConfig out;
  Expected<StringRef> format = r.string(*qc, "format");
  if (!format)
    return format.takeError();
  if (*format != kPackQuantized && *format != kIntQuantized)
    return r.error("format", "'" + *format +
                                 "' is not supported (pack-quantized or "
                                 "int-quantized)");
  out.format = format->str();
  if (qc->get("quantization_status")) {
    Expected<StringRef> status = r.string(*qc, "quantization_status");
    if (!status)
      return status.takeError();
    if (*status != "compressed")
      return r.error("quantization_status",
                     "'" + *status + "' is not supported (compressed only)");
  }
  for (StringRef key : {"kv_cache_scheme", "sparsity_config"})
    if (!r.isNull(*qc, key))
      return r.error(key, "is not supported (must be null or absent)");
  Expected<std::vector<std::string>> ignore = r.strings(*qc, "ignore");
  if (!ignore)
    return ignore.takeError();
  out.ignore = std::move(*ignore);
  const json::Value *groups = qc->get("config_groups");
  const json::Object *go = groups ? groups->getAsObject() : nullptr;
  if (!go || go->empty())
    return r.error("config_groups", "expected a non-empty object");
  std::vector<std::string> names;
  for (const auto &kv : *go)
    names.push_back(kv.first.str());
  llvm::sort(names);
  for (const std::string &name : names) {
    Reader g{origin, r.path + ".config_groups." + name};
    const json::Object *o = go->get(name)->getAsObject();
    if (!o)
      return g.error("expected an object");
    CTGroup group;
    group.name = name;
    Expected<std::vector<std::string>> targets = g.strings(*o, "targets");
    if (!targets)
      return targets.takeError();
    if (targets->empty())
      return g.error("targets", "expected at least one target");
    group.targets = std::move(*targets);
    if (!g.isNull(*o, "output_activations"))
      return g.error("output_activations", "is not supported");
    const json::Value *w = o->get("weights");
    if (!w || !w->getAsObject())
      return g.error("weights", "expected an object (weight quantization)");
    Reader wr{origin, g.path + ".weights"};
    if (Error err = parseArgs(wr, *w->getAsObject(), true, group.scheme))
      return std::move(err);
    if (!g.isNull(*o, "input_activations")) {
      const json::Object *a = o->get("input_activations")->getAsObject();
      Reader ar{origin, g.path + ".input_activations"};
      if (!a)
        return ar.error("expected an object or null");
      if (Error err = parseArgs(ar, *a, false, group.scheme))
        return std::move(err);
    }
    // Either format holds any scheme read here: the one compressed-tensors
    // infers (getFormat) is what qrealign writes, but a checkpoint may
    // force the other (vLLM reads pack-quantized W4A4, for one).
    out.groups.push_back(std::move(group));
  }
  return std::move(out);
}
} // namespace qrealign
