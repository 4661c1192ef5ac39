//===- Passes.td - Conversions out of the qrealign dialect -*- tablegen -*-===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_CONVERSION_PASSES_TD
#define QREALIGN_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQRealignToLinalgPass
    : Pass<"convert-qrealign-to-linalg", "::mlir::func::FuncOp"> {
  let summary = "Lower qrealign compute ops to linalg on tensors";
  let description = [{
    Rewrites the compute ops of a function into `linalg.generic` ops on
    tensors in destination-passing style (every result is written into a
    `tensor.empty` or a filled init operand), plus `tensor` reshapes, and
    `arith` / `math` scalar code in the bodies. Parameters stay
    `qrealign.get_param`: binding them to function arguments is the
    runtime's business, so scales and zero points are always tensors, never
    constants or types.

    - `qrealign.layer`: inlined.
    - `qrealign.add`, `qrealign.swiglu`: elementwise.
    - `qrealign.rms_norm`: a sum-of-squares reduction over the last axis,
      then `x * rsqrt(ss / D + eps) * weight`, in f32.
    - `qrealign.embedding`: a gather (`tensor.extract` in the body).
    - `qrealign.dequantize`: `(q - z) * s` in the grouped form `[N, G, K /
      G]`, the levels `q` unpacked from their storage. Storage that packs
      several levels per unit (nibble pairs in `ui8`, `i32` words) is read
      by the same op, loops `(n, g, b, u)` for level `u` of unit `b` of
      group `g` (the packed bytes are read as bytes or words, never as a
      one-byte-per-element `i4` buffer). With `narrow-levels`, nibble pairs
      are read as `i4` levels instead, loops `(n, g, k)`: a `memref.view`
      of the storage's bytes as `[N, K]` `i4` (between
      `bufferization.to_buffer` and `to_tensor`), which
      `qrealign-emulate-narrow-types` binds back to those bytes after
      bufferization.
    - `qrealign.rope`: the last axis as `[H, 2, half]` (`rotate_half`) or
      `[H, half, 2]` (`interleaved`), each element reading both members of
      its pair; angles `position · theta^(-2i / head_dim)` in f32.
    - `qrealign.attention`: heads as `[KV, rep, head_dim]` (grouped-query),
      scores `q · kᵀ · scale` with causal and padding masks (masked entries
      set to the lowest float, as the engine does), softmax over keys, the
      weighted sum of values; f32 `[B, S, C]`.
    - `qrealign.fake_quantize` with dynamic ranges and no clipping factors
      (Q and K at the activation width): per-row or per-group asymmetric
      quantization as in the integer path below, then `(q - z) · s`.
    - `qrealign.linear` on a float weight (including a dequantized one:
      W4A16): a contraction over the input channels, `x [..., K] · W [N,
      K]ᵀ` over every leading axis of `x` (none is reshaped: MLIR 22.1.8's
      `expand-strided-metadata` crashes on reshapes that split one dynamic
      size into two), accumulating in the result type; then the bias.
    - `qrealign.linear` on a weight-only dequantized weight whose storage
      packs several levels per unit (4-bit bytes, i32 words; W4A16, W8A16
      from words): one contraction that reads the units themselves, loops
      `(..., n, g, j, b)` for unit `b` of group `g` and level `j` of the
      unit, `x` read as `[..., G, B, U]`, the level shifted out and
      dequantized in the body (rounded to the dequantized type); the
      units loop innermost, so that vectorization loads contiguous units.
      Bytes hold two nibbles whatever the width (2..4 bits, offset 8);
      words hold `32 / bits` levels of `bits` each.
      That costs a dequantization per weight and row; for more rows than
      `packed-rows-limit` (prefill) the generic form is cheaper: the weight
      dequantized once per call, then a float contraction. The units are
      then read by the op that dequantizes them, loops `(n, g, u, b)` over
      unit `b` of group `g`: each group's first level of every unit, then
      the second, and so on, and `x` de-interleaved alike (with `U` levels
      per unit and `B = G / U` units per group, column `g·G + u·B + b` is
      column `g·G + b·U + u`), so that a group's units run along the
      innermost loop.
      With dynamic rows both forms are built under an `scf.if` on the row
      count. With `narrow-levels`, nibble pairs are read as `i4` levels in
      both forms (loops `(..., n, g, k)`, `x` as `[..., G, K / G]`, no
      de-interleaving); words stay units.
    - `qrealign.linear` whose scheme quantizes activations (`a_bits < 16`,
      dynamic) on a `qrealign.dequantize`d weight (W8A8, W4A8, W4A4): the
      integer path.
      1. Per-token dynamic asymmetric quantization of `x` (the engine's
         activation quantizer): `s = max((max(x, 0) - min(x, 0)) / (2^b -
         1), 1e-8)`, `z = roundeven(-min(x, 0) / s)`, levels
         `clamp(roundeven(x / s) + z, 0, 2^b - 1) - 2^(b-1)` as `i8`.
      2. The weight's levels `i8 [N, K]` unpacked from storage (with
         `narrow-levels`, from nibble pairs' `i4` levels).
      3. `acc[m, n, g] = Σ_j a[m, g, j] · w[n, g, j]`: an `i8 × i8 → i32`
         contraction per weight scale group (one group per channel).
      4. Epilogue: the zero points enter as row-sum corrections, `t = acc -
         zw · Σa - za · Σw + (K / G) · za · zw` (`i32`), then `y[m, n] =
         sa[m] · Σ_g sw[n, g] · t[m, n, g] + bias[n]` in f32.

      For at most `packed-int-rows-limit` rows (decode) a weight whose
      storage packs several levels per unit (4-bit bytes, i32 words: W4A8, W4A4)
      skips steps 2 and 3 and the corrections: one contraction reads the
      units, loops `(..., n, g, j, b)` as the weight-only form's, and sums
      `t[m, n, g] = Σ (a - za[m]) · (w - zw[n, g])` directly (the same
      integer: no weight is unpacked per call); then the f32 epilogue.
      With `narrow-levels`, nibble pairs are read as `i4` levels, loops
      `(..., n, g, j)`.

    Errors, located at the op: a linear whose scheme quantizes its weight
    while the weight is still a float parameter (run
    `qrealign-quantize-weights` first), static activation quantization, a
    quantized-activation linear on a float weight, a `fake_quantize` with
    static, symmetric or per-tensor dynamic ranges or with clipping factors
    (the calibration form), rope and attention on other than rank-3 (f32)
    tensors, and ops with no lowering (`smooth`, `smooth_weight`, the
    calibration ops).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
  let options = [
    Option<"packedRowsLimit", "packed-rows-limit", "int64_t",
           /*default=*/"4",
           "Largest number of input rows (tokens) for which a weight-only "
           "linear over packed storage reads the units in its contraction "
           "(more rows: the weight is unpacked once per call)">,
    Option<"packedIntRowsLimit", "packed-int-rows-limit", "int64_t",
           /*default=*/"2",
           "The same for the integer path (W4A8, W4A4): its packed form "
           "decodes each level per row in i32, so it pays off for fewer "
           "rows">,
    Option<"narrowLevels", "narrow-levels", "bool", /*default=*/"false",
           "Read nibble-pair storage (ui8) as i4 levels (dequantizations, "
           "weight-only and integer-path linears), a memref.view of its bytes "
           "for qrealign-emulate-narrow-types to bind, instead of as units">
  ];
}

def QRealignBindParamsPass
    : Pass<"qrealign-bind-params", "::mlir::ModuleOp"> {
  let summary = "Turn parameter reads into function arguments";
  let description = [{
    The compiled code receives every parameter (weights, packed levels,
    scales, zero points) as a tensor argument, which the runtime binds to
    the parameter's data: nothing is folded into the code as a constant, and
    one compiled function serves every checkpoint of the same shapes.

    For each function that reads parameters (`qrealign.get_param`, inside
    layers too), the pass appends one argument per distinct parameter, in
    the order of their first read, with the argument attribute
    `qrealign.param = @symbol` (the manifest: argument → parameter, whose
    `qrealign.param` op gives the tensor's name, scope, type and shape), and
    replaces the reads. The `qrealign.param` ops stay: they are what the
    runtime reads the data from. A function that is called (not a public
    entry point) is refused, since its callers would have to pass the new
    arguments.

    With `manifest=FILE`, the bindings are written to FILE (JSON, written
    atomically) and the `qrealign.param` ops and the module's
    `qrealign.params` are dropped, so that the lowered module translates to
    LLVM IR and object code (ahead of time); the runtime reads FILE instead.
    Per function: the number of inputs before the parameters, the dtype and
    shape of each input and result (a dynamic size as null: the signature a
    runtime calls), then for each
    parameter argument its index, symbol, scope, tensor name, dtype, shape
    and storage, as the `qrealign.dequantize` reading it says: `float`
    (scales, float weights), `int8` (one signed level or zero point per
    byte), `int4-pairs` (two offset-binary 4-bit levels per byte, low
    first), `int<b>-words` (compressed-tensors' pack-quantized i32 words:
    32/b offset-binary levels along a row, element i at bit b·i) or
    `int<b>-words-rows` (zero points packed along the rows); the scopes'
    files as the module records them.
    A manifest cannot reference an inline parameter: that is an error.
  }];
  let options = [
    Option<"manifest", "manifest", "std::string", /*default=*/"\"\"",
           "Write the bindings to this JSON file and drop the parameter ops">
  ];
}

def QRealignBuildKVCachePass
    : Pass<"qrealign-build-kv-cache", "::mlir::ModuleOp"> {
  let summary = "Derive prefill and decode functions with an explicit KV cache";
  let description = [{
    From `@forward(ids, positions, mask) -> logits`, adds (or replaces):

    - `@prefill(ids, positions, mask) -> (logits, k_0, v_0, ..., k_{L-1},
      v_{L-1})`: the forward pass that also returns, for each attention
      op in program order, the keys and values it attended to (after RoPE
      and, in a quantized model, after their fake-quantization: what the
      engine caches too);
    - `@decode(ids, positions, mask, k_0, v_0, ...) -> (logits, k'_0, v'_0,
      ...)`: the forward pass over new tokens only. Each cache tensor
      `[batch, capacity, width]` holds the cached positions first; `mask`
      covers the cached and the new positions (as in the engine), so its
      length is the total. Before each attention the new keys and values
      are written into the cache at positions `total - new ..< total`
      (`tensor.insert_slice`) and the attention reads its first `total`
      positions (`tensor.extract_slice`); the updated caches are returned.
      One-shot bufferization writes them in place: the returned buffers
      are the arguments, so a step moves the new positions only, not the
      whole cache. A cache whose capacity is below the total fails a
      `cf.assert` (aborting) rather than being written past its end.

    With `decode-tokens=T` (default 1), `@decode` takes `ids` and
    `positions` of the static shape `[1, T]` (one sequence, T new tokens
    per step: what the runtime's greedy decoding passes) and `mask` of
    `[1, ?]`, cast to the forward pass's types at the entry. Once lowered
    and canonicalized the row count of every linear is that constant, so
    the lowering's choice between its few-row and many-row forms is made
    at compile time: no branch on the host (on the GPU, no synchronization
    at each), no code for the form decode never takes. `decode-tokens=0`
    keeps `@decode` as dynamic as `@forward`.

    Layers are inlined in both functions (a layer yields the residual
    stream only). Errors: no `@forward` of that signature, one without
    attention, or one whose `ids` cannot take the static shape.
  }];
  let options = [
    Option<"decodeTokens", "decode-tokens", "int64_t", /*default=*/"1",
           "New tokens per @decode step, static (0: dynamic)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::cf::ControlFlowDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QRealignGPUIntMatmulSchedulePass
    : Pass<"qrealign-gpu-int-matmul-schedule", "::mlir::ModuleOp"> {
  let summary = "Map i8 x i8 -> i32 contractions onto GPU warps for mma.sync";
  let description = [{
    The first step of `qrealign-lower-to-nvvm`: every `linalg.generic`
    that is the integer contraction of the W8A8 path, `acc[m, n] += a[m, k]
    · w[n, k]` on `i8` operands (sign-extended) into `i32`, with static
    sizes that are multiples of 32 and its accumulator a `linalg.fill`, is
    scheduled by transform-dialect scripts applied here (the tiling once per
    contraction, then bufferization and the mapping once for the module, so
    a module may hold several):

    - 32 x 32 output tiles to thread blocks, 16 x 8 tiles to warps (8 warps
      per block), the fill fused into both;
    - the reduction tiled by 32 and each 16 x 8 x 32 step vectorized to a
      `vector.contract` with both operands K-contiguous (the row.col layout
      of `mma.sync.m16n8k32.s8`), the sign extensions folded into it;
    - the accumulator hoisted into registers across the reduction loop;
    - one-shot bufferization (identity layouts at function boundaries: the
      output is written in place into its argument, destination-passing
      style), then `gpu.launch` with the tiles mapped to blocks and warps;
    - inside these launches only, upstream's vector-to-nvgpu conversion
      (`populatePrepareVectorToMMAPatterns`,
      `convertVectorToNVVMCompatibleMMASync`): each step one
      `nvgpu.mma.sync` m16n8k32 on the lanes' fragments. The pass
      `convert-vector-to-gpu{use-nvgpu}` of MLIR 22.1.8 fails on any scalar
      `arith` op it walks over (a linalg body, another kernel's index
      arithmetic), so it is not run on the whole module.

    The operands are read from global memory (no shared-memory staging,
    `ldmatrix` or `cp.async` yet): a correctness kernel. The W4A16 packed
    contractions are left to `qrealign-gpu-w4a16-mma`, every other op to
    `qrealign-gpu-loops`.

    The contraction `convert-qrealign-to-linalg` emits for a W8A8 linear
    has loops `(rows.., n, g, k)`; its unit loops (one leading row axis of
    extent 1, one group per channel) are dropped first, in the integer
    contractions only, which makes it the plain `(m, n, k)` form. An
    integer contraction the schedule cannot take (dynamic or unaligned
    sizes, several groups, another body) gets a remark saying why and is
    left to `qrealign-gpu-loops`.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QRealignGPUW4A16MMAPass
    : Pass<"qrealign-gpu-w4a16-mma", "::mlir::ModuleOp"> {
  let summary = "W4A16 linears on tensor cores: 4-bit weights dequantized "
                "in registers, f16 mma.sync";
  let description = [{
    The W4A16 step of `qrealign-lower-to-nvvm`, on bufferized IR. Upstream
    `convert-vector-to-gpu` refuses a `vector.contract` fed by dequantization
    arithmetic, so this pass builds the warp-level code itself. It rewrites
    each `linalg.generic` that is the packed weight-only contraction
    `convert-qrealign-to-linalg` emits for few rows (loops `(m, n, g, j, b)`:
    `y[m, n] += x[m, g, b, j] · w(unit[n, g, b], j)`, with `w(u, j) =
    f16(((u >> 4j & 15) − 8 − z[n, g]) · s[n, g])`), byte (`i8`, 2 levels)
    or word (`i32`, 8 levels) units, f16 activations, and its accumulator a
    `linalg.fill`, into a `gpu.launch`:

    - one warp per 16 × 8 output tile (rows past M masked: loads read row
      M − 1 and the lanes' values are zeroed, stores are skipped), 4 warps
      per block along N;
    - per step of 16 along K, each lane loads its fragment of the
      activations (4 pairs of f16, `vector.load`) and of the weight (the
      units holding its 4 levels, their group's scale and zero point),
      dequantizes the levels in registers exactly as the linalg body does
      (the same integer and f32 operations, rounded to f16 once), and issues
      one `nvgpu.mma.sync` m16n8k16 (f16 × f16 → f32); fragment coordinates
      come from upstream's `nvgpu::getLaneIdAndValueIdToOperandCoord`;
    - the accumulators stay in f32 registers across K (tensor cores
      accumulate in f32, as every f16 GEMM does; an f16 output is rounded
      once, at the store).

    The `linalg.fill` of the accumulator is folded in (its value starts the
    accumulators). No shared-memory staging yet: the operands are read from
    global memory. Errors, located at the op: a contraction of this form
    whose types, sizes (N a multiple of 8, groups a multiple of 16 levels)
    or body differ, activations strided along K, an accumulator that is not
    filled, IR that is not bufferized.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::nvgpu::NVGPUDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def QRealignGPULoopsPass : Pass<"qrealign-gpu-loops", "::mlir::ModuleOp"> {
  let summary = "Map the linalg ops no GPU schedule took to GPU threads, and "
                "host buffers to the device";
  let description = [{
    The last mapping step of `qrealign-lower-to-nvvm`, on bufferized IR,
    after the tensor-core schedules. Every linalg op still outside a
    `gpu.launch` (the W8A8 activation quantization, row sums and epilogue,
    norms, rotary embedding, attention, contractions no tensor-core
    schedule matched, copies) becomes its own kernel:

    - the op to `scf.parallel` loops over its parallel dimensions (its
      reductions sequential inside, one thread per output element);
    - the innermost dimension of extent other than 1 tiled across a
      block's threads (`max-threads`, fewer for a smaller static extent:
      the power of two from 32 up), the tile loop across blocks (that
      dimension on x, the others outermost first on y and z, the rest in
      sequence inside a thread);
    - upstream's parallel-loop-to-GPU conversion, which sizes the launch
      from the loop bounds (dynamic sizes included) and guards the last
      block.

    Host `memref.copy` ops become copy kernels, `memref.alloc` and
    `memref.dealloc` become `gpu.alloc` and `gpu.dealloc`: the host code
    left allocates, computes sizes and launches. A buffer allocated in a
    host branch (a packed linear's few-row / many-row choice) moves out of
    it with the side-effect-free ops computing its size; each buffer is
    freed at the function's end unless returned or already freed; a buffer returned through
    a branch or loop result is first copied into one of its own. A correctness path: a
    reduction runs in one thread per output. Errors, located at the op: IR
    that is not bufferized, a linalg op without a parallel dimension, a
    host access to a buffer (which now lives on the device), a buffer whose
    size is computed in a branch by an op with side effects, host code of
    several blocks.
  }];
  let options = [
    Option<"maxThreads", "max-threads", "int64_t", /*default=*/"256",
           "Threads per block along the mapped dimension">,
  ];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def QRealignGPULaunchToLoopsPass
    : Pass<"qrealign-gpu-launch-to-loops", "::mlir::ModuleOp"> {
  let summary = "Run the launches qrealign-gpu-loops builds as host loops "
                "(the GPU mapping checked on the CPU)";
  let description = [{
    Each `gpu.launch` becomes a nest of `scf.for` over its blocks and then
    its threads (z outermost), the body cloned inside with the block and
    thread ids, grid and block sizes replaced by the loops' values; each
    `gpu.alloc` / `gpu.dealloc` becomes `memref.alloc` / `memref.dealloc`.
    Sound for kernels whose threads do not cooperate, which is every kernel
    of `qrealign-gpu-loops`: it is how `qrealign-lower-to-cpu{emulate-gpu}`
    runs a model through the GPU mapping (its tiling, guards, launch sizes
    and buffers) where no GPU is, against the engine. Errors, located at
    the op: a launch holding any `gpu`, `nvgpu` or `nvvm` op (barriers,
    shuffles, tensor-core instructions), an asynchronous launch or buffer,
    a kernel body of several blocks.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::scf::SCFDialect"];
}

def QRealignFuseElementwisePass
    : Pass<"qrealign-fuse-elementwise", "::mlir::func::FuncOp"> {
  let summary = "Fuse elementwise linalg producers into their consumers where "
                "no producer element is computed twice";
  let description = [{
    A step of `qrealign-lower-to-cpu`, on tensors: upstream's
    `linalg-fuse-elementwise-ops` (the same fusion, reshape propagation by
    expansion and clean-ups) with one more rule. A producer is fused into a
    consumer only where the consumer reads it through a permutation map:
    one producer element per consumer iteration. Where the consumer reads
    it through a projection, its loops run over more than the producer's
    (a linear's output channels over its input, a contraction's reduction),
    and the fused body would compute each producer element once per extra
    iteration. Upstream fuses those too, which put
    - W8A8's per-token activation quantization (a division, a rounding, a
      clamp) inside the i8 contraction, once per weight and token;
    - W4A16's dequantization (prefill form) inside the float contraction,
      once per weight and token;
    - SwiGLU's `silu(gate) · up` inside `down_proj`, an exponential per
      weight and token.
    Here the producer is computed once, into its own tensor, and read by
    the consumer. Values are unchanged: the same operations on the same
    operands, in the same order for each element.

    Reshapes are folded into a `linalg.generic` by expanding its loops, as
    upstream, except where the generic has reductions (a linear keeps its
    `[m, n, k]`, which `qrealign-cpu-vectorize` schedules) and where the
    reshaped input is read through a projection (a weight's zero points,
    `[N, G]` unpacked from words as `[N / 8, 8, G]`, would split the rows
    of the dequantization they feed, which `qrealign-cpu-vectorize` slices
    8 at a time).

    As upstream, a producer with other uses is not fused.
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect"];
}

def QRealignEmulateNarrowTypesPass
    : Pass<"qrealign-emulate-narrow-types", "::mlir::ModuleOp"> {
  let summary = "Bind sub-byte memrefs to packed bytes with MLIR's "
                "narrow-type emulation";
  let description = [{
    A step of `qrealign-lower-to-cpu`, on memrefs after bufferization and
    the lowering of linalg ops and n-D transfers to loops: every memref of
    `i2` or `i4` elements becomes a one-dimensional memref of bytes
    holding several elements each, little end first (element 0 of a byte
    in its low bits, as compressed-tensors and the quantizer pack them),
    through upstream's narrow-type emulation patterns (arith, memref and
    vector). No memref of one byte per sub-byte element reaches the LLVM
    lowering, which would lay one out that way. Boolean (`i1`) memrefs,
    masks, keep their byte per element.

    - A sub-byte memref is made from bytes by a `memref.view` of a
      one-dimensional byte buffer at byte 0 (what `convert-qrealign-to-linalg`
      builds for packed weight storage, `narrow-levels`): the view becomes
      its source. Any other `memref.view` of sub-byte elements is an error.
    - Subviews of sub-byte memrefs are first folded into the loads that
      read them (`fold-memref-alias-ops`' patterns, applied to those ops
      only), since the emulation linearizes each access; in-bounds 1-D
      transfers become plain loads (emulated, a `vector.transfer_read` is
      a masked load of bytes whose bounds are checked at run time).
    - The strided metadata upstream's patterns take of a sub-byte memref
      of static layout (a view or an argument, which they do not resolve)
      becomes constants.
    - Function arguments and results of sub-byte memrefs become byte memrefs
      (`memref<8x16xi4>` becomes `memref<64xi8>`): this changes the
      function's ABI. Their shapes must be static (a located error
      otherwise): a dynamic shape cannot be recovered from a byte count.
    - Then upstream's rewrites of sub-byte vector bit casts and extensions
      (`vector.bitcast` of bytes to `i4` lanes followed by `arith.extui`)
      into shifts and shuffles of whole bytes.

    A loaded sub-byte vector must start at an element a byte begins with:
    upstream's emulation reads whole bytes and does not check the offset
    of a dynamic index (every index `convert-qrealign-to-linalg` builds is
    a multiple of the vector length).
  }];
  let dependentDialects = ["::mlir::affine::AffineDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::vector::VectorDialect"];
}

def QRealignCPUVectorizePass
    : Pass<"qrealign-cpu-vectorize", "::mlir::ModuleOp"> {
  let summary = "Tile and vectorize the contractions of a linalg-level module "
                "for the host CPU";
  let description = [{
    A step of `qrealign-lower-to-cpu`, on tensors, before bufferization.
    Every `linalg.generic` whose innermost loop is its reduction over a
    static extent that is a multiple of 8, whose operands are read through
    projected permutations, and whose body accumulates with `arith.addf` or
    `arith.addi` into its one output (the float and W4A16 linears, the i8
    contractions of W8A8/W4A8/W4A4, the attention score products) is
    scheduled by a transform-dialect script built for its loop structure:

    - the innermost parallel loop of extent other than 1 (the output
      channel of a linear) tiled by 8 when its extent is a static multiple
      of 8, every other loop by 1;
    - where the reductions come after every parallel loop, that loop
      moved out of the parallel loops its operands do not read
      (`transform.structured.interchange`: a linear's `[m, n, k]` runs as
      `[n, m, k]`), so that the 8 rows of weights a tile reads stay in
      cache while every token uses them, instead of the whole weight
      streaming from memory once per token; parallel loops only move, each
      output's sum is unchanged;
    - there, an input read through that loop and produced by an
      elementwise `linalg.generic` with no other use (directly or through a
      `tensor.collapse_shape`: a W4A16 weight dequantized for prefill) is
      computed inside the loop over tiles, a tile's slice at a time, before
      the loops it does not read (`fuse_into_containing_op`): each element
      once per call, into one tile-sized tensor created outside the loop
      (then one buffer), never the whole operand; the slice is tiled by 1
      but for its innermost loop (a static multiple of 8), which is tiled
      by 64, 32, 16 or 8 (the largest that divides it), and vectorized;
    - there, the last loop moved inside that loop (a linear's tokens)
      tiled by `tile-rows` (register blocking: each weight vector loaded
      once for that many tokens). Where its extent is dynamic or not a
      multiple of `tile-rows`, the loop is peeled (`transform.loop.peel`):
      the full tiles run first, the remainder a token at a time. A static
      extent below `tile-rows` keeps tiles of 1 (a decode step's one
      token);
    - the reduction split into `lanes` partial sums
      (`tile_reduction_using_for`; 8 where the reduction's extent is not a
      multiple of `lanes`): a loop over the reduction in steps of `lanes`
      that accumulates an 8 x `tile-rows` x `lanes` vector in registers,
      then one `vector.multi_reduction` of the lanes per output;
    - vectorized (`vector.transfer_read` of contiguous rows), the
      accumulator hoisted out of the reduction loop, multi-reductions
      lowered to `vector.reduction`; the products and sums of a scheduled
      float contraction's body marked `fastmath<contract>`, and its
      vectorized step's product and sum fused into one `vector.fma` (one
      rounding instead of two; other vector arithmetic is left alone).

    An elementwise `linalg.generic` (every loop parallel) that reads `i4`
    levels along its innermost loop, of a static extent that is a multiple
    of 8, and is not computed inside a contraction's tiles as above (the
    integer path's weight unpacked to i8 for prefill, a dequantization
    alone, with `narrow-levels`) is tiled by 1 but for that loop, tiled by
    64, 32, 16 or 8, and vectorized: read one level at a time, each would be
    a load, a shift and a mask of its byte once
    `qrealign-emulate-narrow-types` binds the levels to their bytes.

    Sums are reassociated (`lanes` partial sums per output) and products
    fused: float outputs differ from the scalar loops by rounding, integer
    accumulators are exact. Other
    linalg ops stay as they are (loops later).
  }];
  let options = [
    Option<"tileRows", "tile-rows", "int64_t", /*default=*/"0",
           "Tokens per tile of a linear (register blocking); 0: for the host "
           "(3 with AVX-512, else 1)">,
    Option<"lanes", "lanes", "int64_t", /*default=*/"0",
           "Partial sums per output (the reduction's vector width); 0: for "
           "the host (16 with AVX-512, else 8)">,
  ];
}

#endif // QREALIGN_CONVERSION_PASSES_TD
