//===- ObjectCode.cpp - Compiled qrealign functions as object files -------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Compiled/ObjectCode.h"

#include "qrealign/Compiled/JIT.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "qrealign/Runtime/CudaRuntime.h"

#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/BinaryFormat/Magic.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Object/ObjectFile.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"

using namespace ::qrealign;

static constexpr llvm::StringLiteral kManifestSymbol = "qrealign_manifest";
static constexpr llvm::StringLiteral kTargetSymbol = "qrealign_target";
static constexpr llvm::StringLiteral kDeviceSymbol = "qrealign_device";
static constexpr llvm::StringLiteral kInitSymbol = "qrealign_init";
static constexpr llvm::StringLiteral kFiniSymbol = "qrealign_fini";

std::string ObjectTarget::str() const {
  return triple + ";" + cpu + ";" + features;
}

llvm::StringMap<bool> ObjectTarget::featureMap() const {
  llvm::StringMap<bool> map;
  llvm::SmallVector<llvm::StringRef> list;
  llvm::StringRef(features).split(list, ',', -1, false);
  for (llvm::StringRef f : list)
    if (f.size() > 1 && (f.front() == '+' || f.front() == '-'))
      map[f.drop_front()] = f.front() == '+';
  return map;
}

/// "+a,+b,-c" from a feature map.
static std::string featureString(const llvm::StringMap<bool> &map) {
  llvm::SubtargetFeatures features;
  for (const auto &entry : map)
    features.AddFeature(entry.getKey(), entry.getValue());
  std::vector<std::string> list = features.getFeatures();
  llvm::sort(list);
  return llvm::join(list, ",");
}

ObjectTarget qrealign::getHostTarget() {
  return ObjectTarget{llvm::sys::getProcessTriple(),
                      llvm::sys::getHostCPUName().str(),
                      featureString(llvm::sys::getHostCPUFeatures())};
}

llvm::Expected<ObjectTarget> qrealign::getTargetForCPU(llvm::StringRef cpu) {
  if (cpu == "native")
    return getHostTarget();
  initializeHostTarget();
  ObjectTarget target{llvm::sys::getProcessTriple(), cpu.str(), ""};
  std::string error;
  llvm::Triple triple(target.triple);
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!t)
    return llvm::createStringError(error);
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      t->createMCSubtargetInfo(triple, cpu, ""));
  if (!info || !info->isCPUStringValid(cpu))
    return llvm::createStringError("'" + cpu + "' is not a CPU of " +
                                   target.triple);
  // The CPU's own features, spelled out, so that the load check sees them.
  llvm::StringMap<bool> map;
  for (const llvm::SubtargetFeatureKV &kv : info->getAllProcessorFeatures())
    map[kv.Key] = info->getFeatureBits().test(kv.Value);
  target.features = featureString(map);
  return target;
}

/// Adds `_mlir_NAME(void **args)` for every defined `_mlir_ciface_NAME`:
/// loads each argument from the pointer args[i] holds, calls, and stores a
/// non-void result through args[n].
static void addPackedEntryPoints(llvm::Module &m) {
  llvm::IRBuilder<> b(m.getContext());
  llvm::Type *ptr = b.getPtrTy();
  std::vector<llvm::Function *> interfaces;
  for (llvm::Function &f : m)
    if (!f.isDeclaration() && f.getName().starts_with("_mlir_ciface_"))
      interfaces.push_back(&f);
  for (llvm::Function *f : interfaces) {
    auto *type = llvm::FunctionType::get(b.getVoidTy(), {ptr}, false);
    auto *packed = llvm::Function::Create(
        type, llvm::GlobalValue::ExternalLinkage, "_mlir_" + f->getName(), m);
    b.SetInsertPoint(llvm::BasicBlock::Create(m.getContext(), "", packed));
    llvm::Value *args = packed->getArg(0);
    llvm::SmallVector<llvm::Value *> values;
    for (llvm::Argument &arg : f->args()) {
      llvm::Value *slot = b.CreateConstGEP1_64(ptr, args, arg.getArgNo());
      values.push_back(b.CreateLoad(arg.getType(), b.CreateLoad(ptr, slot)));
    }
    llvm::Value *result = b.CreateCall(f, values);
    if (!result->getType()->isVoidTy()) {
      llvm::Value *slot = b.CreateConstGEP1_64(ptr, args, f->arg_size());
      b.CreateStore(result, b.CreateLoad(ptr, slot));
    }
    b.CreateRetVoid();
  }
}

/// Moves the module's global constructors (or destructors) into one
/// function `name` that calls them in priority order. ORC runs no
/// `.init_array` of an object linked without its platform runtime, so
/// ObjectModule calls qrealign_init after linking and qrealign_fini before
/// it unlinks (gpu-module-to-binary's kernel modules are loaded and
/// unloaded there).
static void gatherInitializers(llvm::Module &m, llvm::StringRef list,
                               llvm::StringRef name) {
  llvm::IRBuilder<> b(m.getContext());
  auto *type = llvm::FunctionType::get(b.getVoidTy(), false);
  auto *fn =
      llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, m);
  b.SetInsertPoint(llvm::BasicBlock::Create(m.getContext(), "", fn));
  if (llvm::GlobalVariable *gv = m.getGlobalVariable(list)) {
    std::vector<std::pair<uint64_t, llvm::Constant *>> entries;
    if (auto *array = llvm::dyn_cast<llvm::ConstantArray>(gv->getInitializer()))
      for (llvm::Use &op : array->operands()) {
        auto *entry = llvm::cast<llvm::ConstantStruct>(op.get());
        auto *priority = llvm::cast<llvm::ConstantInt>(entry->getOperand(0));
        entries.emplace_back(priority->getZExtValue(), entry->getOperand(1));
      }
    // Constructors run in ascending priority, destructors in descending.
    llvm::stable_sort(entries, [&](const auto &a, const auto &b) {
      return list == "llvm.global_ctors" ? a.first < b.first
                                         : a.first > b.first;
    });
    for (auto &[priority, callee] : entries)
      b.CreateCall(type, callee);
    gv->eraseFromParent();
  }
  b.CreateRetVoid();
}

static void addString(llvm::Module &m, llvm::StringRef name,
                      llvm::StringRef text) {
  llvm::Constant *value =
      llvm::ConstantDataArray::getString(m.getContext(), text, true);
  new llvm::GlobalVariable(m, value->getType(), /*isConstant=*/true,
                           llvm::GlobalValue::ExternalLinkage, value, name);
}

llvm::Expected<llvm::SmallVector<char, 0>>
qrealign::emitObject(mlir::ModuleOp module, llvm::StringRef manifest,
                     const ObjectTarget &target, unsigned optLevel,
                     llvm::StringRef device) {
  initializeHostTarget();
  mlir::DialectRegistry registry;
  mlir::registerBuiltinDialectTranslation(registry);
  mlir::registerLLVMDialectTranslation(registry);
  // gpu.binary and gpu.launch_func of qrealign-lower-to-nvvm's host code.
  mlir::registerGPUDialectTranslation(registry);
  mlir::gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  module.getContext()->appendDialectRegistry(registry);

  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> m =
      mlir::translateModuleToLLVMIR(module, context, "qrealign");
  if (!m)
    return llvm::createStringError("the module does not translate to LLVM IR");
  std::string error;
  llvm::Triple triple(target.triple);
  const llvm::Target *t = llvm::TargetRegistry::lookupTarget(triple, error);
  if (!t)
    return llvm::createStringError(error);
  auto level = optLevel == 0   ? llvm::CodeGenOptLevel::None
               : optLevel == 1 ? llvm::CodeGenOptLevel::Less
               : optLevel == 2 ? llvm::CodeGenOptLevel::Default
                               : llvm::CodeGenOptLevel::Aggressive;
  std::unique_ptr<llvm::TargetMachine> machine(t->createTargetMachine(
      triple, target.cpu, target.features, llvm::TargetOptions(),
      llvm::Reloc::PIC_, std::nullopt, level));
  if (!machine)
    return llvm::createStringError("no target machine for " + target.str());
  m->setTargetTriple(triple);
  m->setDataLayout(machine->createDataLayout());
  addPackedEntryPoints(*m);
  addString(*m, kManifestSymbol, manifest);
  addString(*m, kTargetSymbol, target.str());
  addString(*m, kDeviceSymbol, device);
  gatherInitializers(*m, "llvm.global_ctors", kInitSymbol);
  gatherInitializers(*m, "llvm.global_dtors", kFiniSymbol);
  if (llvm::Error err = mlir::makeOptimizingTransformer(
          optLevel, /*sizeLevel=*/0, machine.get())(m.get()))
    return std::move(err);

  llvm::SmallVector<char, 0> object;
  llvm::raw_svector_ostream os(object);
  llvm::legacy::PassManager pm;
  if (machine->addPassesToEmitFile(pm, os, nullptr,
                                   llvm::CodeGenFileType::ObjectFile))
    return llvm::createStringError("the target cannot emit object files");
  pm.run(*m);
  return object;
}

ObjectModule::~ObjectModule() {
  if (fini)
    fini();
}

llvm::Expected<std::string> qrealign::getGPUChip(llvm::StringRef device) {
  llvm::StringRef chip = device;
  if (!chip.consume_front("cuda:") || !chip.starts_with("sm_") ||
      chip.size() < 5 || !llvm::all_of(chip.drop_front(3), llvm::isDigit))
    return llvm::createStringError("'" + device +
                                   "' is not a device qrealign-compile "
                                   "writes (cuda:sm_NN)");
  return chip.str();
}

/// The symbol of `object` named `name`, if any.
static std::optional<llvm::object::SymbolRef>
findSymbol(const llvm::object::ObjectFile &object, llvm::StringRef name) {
  for (const llvm::object::SymbolRef &sym : object.symbols()) {
    llvm::Expected<llvm::StringRef> symName = sym.getName();
    if (!symName) {
      llvm::consumeError(symName.takeError());
      continue;
    }
    if (*symName == name)
      return sym;
  }
  return std::nullopt;
}

/// The NUL-terminated string that symbol `name` of `object` defines.
static llvm::Expected<std::string>
readEmbeddedString(const llvm::object::ObjectFile &object, llvm::StringRef name,
                   llvm::StringRef path) {
  auto read = [&]() -> std::optional<std::string> {
    std::optional<llvm::object::SymbolRef> sym = findSymbol(object, name);
    if (!sym)
      return std::nullopt;
    llvm::Expected<llvm::object::section_iterator> section = sym->getSection();
    llvm::Expected<uint64_t> value = sym->getValue();
    if (!section || !value || *section == object.section_end()) {
      if (!section)
        llvm::consumeError(section.takeError());
      if (!value)
        llvm::consumeError(value.takeError());
      return std::nullopt;
    }
    llvm::Expected<llvm::StringRef> contents = (*section)->getContents();
    if (!contents) {
      llvm::consumeError(contents.takeError());
      return std::nullopt;
    }
    if (*value >= contents->size())
      return std::nullopt;
    llvm::StringRef rest = contents->drop_front(*value);
    size_t end = rest.find('\0');
    if (end == llvm::StringRef::npos)
      return std::nullopt;
    return rest.take_front(end).str();
  };
  if (std::optional<std::string> text = read())
    return *text;
  return llvm::createStringError(
      path + ": not an object qrealign-compile wrote (no readable '" + name +
      "' string)");
}

/// Every instruction-set feature `target` enables that the host lacks. The
/// host reports the features it can detect (present or absent); the
/// others a CPU name implies are tuning choices (fast-gather,
/// false-deps-*), not instructions, and are not checked.
static std::vector<std::string> missingFeatures(const ObjectTarget &target) {
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  std::vector<std::string> missing;
  for (const auto &entry : target.featureMap()) {
    auto it = host.find(entry.getKey());
    if (entry.getValue() && it != host.end() && !it->second)
      missing.push_back(entry.getKey().str());
  }
  llvm::sort(missing);
  return missing;
}

llvm::Expected<std::unique_ptr<ObjectModule>>
ObjectModule::load(llvm::StringRef path) {
  initializeHostTarget();
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> file =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                  /*RequiresNullTerminator=*/false);
  if (!file)
    return llvm::createStringError(path + ": " + file.getError().message());
  llvm::file_magic magic = llvm::identify_magic((*file)->getBuffer());
  if (magic != llvm::file_magic::elf_relocatable &&
      magic != llvm::file_magic::macho_object &&
      magic != llvm::file_magic::coff_object)
    return llvm::createStringError(
        path + ": not a relocatable object file (qrealign-compile writes "
               "one)");
  llvm::Expected<std::unique_ptr<llvm::object::ObjectFile>> object =
      llvm::object::ObjectFile::createObjectFile((*file)->getMemBufferRef());
  if (!object)
    return llvm::createStringError(path + ": " +
                                   llvm::toString(object.takeError()));
  std::unique_ptr<ObjectModule> loaded(new ObjectModule());
  llvm::Expected<std::string> target =
      readEmbeddedString(**object, kTargetSymbol, path);
  if (!target)
    return target.takeError();
  llvm::Expected<std::string> manifest =
      readEmbeddedString(**object, kManifestSymbol, path);
  if (!manifest)
    return manifest.takeError();
  loaded->manifest = std::move(*manifest);
  // Objects of earlier versions record no device: they are host code.
  if (findSymbol(**object, kDeviceSymbol)) {
    llvm::Expected<std::string> device =
        readEmbeddedString(**object, kDeviceSymbol, path);
    if (!device)
      return device.takeError();
    loaded->device = std::move(*device);
  }
  std::string chip;
  if (loaded->isCUDA()) {
    llvm::Expected<std::string> c = getGPUChip(loaded->device);
    if (!c)
      return llvm::createStringError(path + ": " +
                                     llvm::toString(c.takeError()));
    chip = *c;
    // Its kernel modules load when it is linked: there must be a GPU.
    if (!qrealignGpuAvailable())
      return llvm::createStringError(
          path + ": compiled for a GPU (" + chip +
          ") and this host cannot run it: " + qrealignGpuStatus() +
          " (compile without --gpu for the CPU)");
  } else if (!loaded->device.empty() && loaded->device != kEmulatedGPU) {
    return llvm::createStringError(path + ": unknown device '" +
                                   loaded->device + "'");
  }
  llvm::SmallVector<llvm::StringRef, 3> fields;
  llvm::StringRef(*target).split(fields, ';');
  if (fields.size() != 3)
    return llvm::createStringError(path + ": malformed target '" + *target +
                                   "'");
  loaded->target =
      ObjectTarget{fields[0].str(), fields[1].str(), fields[2].str()};

  // Can this host run it?
  llvm::Triple objectTriple(loaded->target.triple),
      hostTriple(llvm::sys::getProcessTriple());
  if (objectTriple.getArch() != hostTriple.getArch() ||
      objectTriple.getOS() != hostTriple.getOS())
    return llvm::createStringError(path + ": compiled for " +
                                   loaded->target.triple + ", this host is " +
                                   hostTriple.str());
  std::vector<std::string> missing = missingFeatures(loaded->target);
  if (!missing.empty())
    return llvm::createStringError(
        path + ": compiled for CPU '" + loaded->target.cpu +
        "'; this host lacks " + llvm::join(missing, ", ") +
        " (compile with --mcpu=native on this host, or an older --mcpu)");

  auto jit = llvm::orc::LLJITBuilder().create();
  if (!jit)
    return jit.takeError();
  llvm::orc::JITDylib &main = (*jit)->getMainJITDylib();
  char prefix = (*jit)->getDataLayout().getGlobalPrefix();
  // malloc, free, math functions from the process; memrefCopy from MLIR's
  // C runner utilities.
  auto process =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(prefix);
  if (!process)
    return process.takeError();
  main.addGenerator(std::move(*process));
  llvm::Expected<llvm::StringRef> runnerUtils = getRunnerUtilsPath();
  if (!runnerUtils)
    return runnerUtils.takeError();
  auto utils = llvm::orc::DynamicLibrarySearchGenerator::Load(
      runnerUtils->str().c_str(), prefix);
  if (!utils)
    return utils.takeError();
  main.addGenerator(std::move(*utils));
  // The GPU host runtime the code of qrealign-lower-to-nvvm calls: this
  // process's own (linked in, not looked up by name in a library).
  if (loaded->isCUDA()) {
    llvm::orc::SymbolMap runtime;
    auto define = [&](const char *name, auto *fn) {
      runtime[(*jit)->mangleAndIntern(name)] = {
          llvm::orc::ExecutorAddr::fromPtr(reinterpret_cast<void *>(fn)),
          llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
    };
    define("mgpuModuleLoad", &mgpuModuleLoad);
    define("mgpuModuleLoadJIT", &mgpuModuleLoadJIT);
    define("mgpuModuleUnload", &mgpuModuleUnload);
    define("mgpuModuleGetFunction", &mgpuModuleGetFunction);
    define("mgpuLaunchKernel", &mgpuLaunchKernel);
    define("mgpuStreamCreate", &mgpuStreamCreate);
    define("mgpuStreamDestroy", &mgpuStreamDestroy);
    define("mgpuStreamSynchronize", &mgpuStreamSynchronize);
    define("mgpuMemAlloc", &mgpuMemAlloc);
    define("mgpuMemFree", &mgpuMemFree);
    define("mgpuMemcpy", &mgpuMemcpy);
    define("mgpuMemset32", &mgpuMemset32);
    if (llvm::Error err = main.define(llvm::orc::absoluteSymbols(runtime)))
      return std::move(err);
  }
  if (llvm::Error err = (*jit)->addObjectFile(std::move(*file)))
    return std::move(err);
  loaded->jit = std::move(*jit);
  // Objects of earlier versions have no initializers to run.
  auto init = loaded->jit->lookup(kInitSymbol);
  auto fini = loaded->jit->lookup(kFiniSymbol);
  if (!init || !fini) {
    if (loaded->isCUDA())
      return llvm::createStringError(
          path + ": no " + kInitSymbol + " or " + kFiniSymbol +
          " (a GPU object qrealign-compile did not write)");
    llvm::consumeError(init.takeError());
    llvm::consumeError(fini.takeError());
    return loaded;
  }
  int64_t errorsBefore = qrealignGpuErrors(nullptr);
  init->toPtr<void (*)()>()();
  loaded->fini = fini->toPtr<void (*)()>();
  const char *last = nullptr;
  if (loaded->isCUDA() && qrealignGpuErrors(&last) != errorsBefore)
    return llvm::createStringError(path + ": loading its kernels (" + chip +
                                   ") failed: " + last + " (is this GPU an " +
                                   chip + " or newer?)");
  return loaded;
}

llvm::Expected<void (*)(void **)>
ObjectModule::lookupPacked(llvm::StringRef name) {
  auto address = jit->lookup(("_mlir__mlir_ciface_" + name).str());
  if (!address)
    return address.takeError();
  return address->toPtr<void (*)(void **)>();
}
