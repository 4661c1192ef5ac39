/*===- EngineAPI.h - The C boundary of the libtorch engine --------*- C -*-===*\
|*                                                                            *|
|* The execution engine lives in its own shared library (libQRealignEngine),  *|
|* the only one that links libtorch. Tools load it with dlopen only when they *|
|* run a model, through this plain C interface: no C++ types cross it, so a   *|
|* statically linked tool can load an engine built elsewhere (for example     *|
|* against the CUDA-enabled libtorch of the GPU machine).                     *|
|*                                                                            *|
|* A program is a flat list of instructions over numbered tensor values,      *|
|* lowered from a qrealign module by qrealign::lowerToProgram (which owns the *|
|* memory). Parameter data pointers must stay valid until                     *|
|* qr_engine_create returns; the engine copies what it needs.                 *|
|*                                                                            *|
|* Every function that can fail returns 0 on success and 1 on failure, with   *|
|* a message in `err` (at most `err_len` bytes, NUL-terminated).              *|
\*===----------------------------------------------------------------------===*/

#ifndef QREALIGN_ENGINE_ENGINEAPI_H
#define QREALIGN_ENGINE_ENGINEAPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QR_ENGINE_ABI_VERSION 7

/* The engine library is built with hidden visibility; these are its only
   exported symbols. */
#define QR_ENGINE_API __attribute__((visibility("default")))

enum qr_opcode {
  QR_OP_EMBEDDING = 1,      /* out = table[ids]; in0 = ids, param0 = table */
  QR_OP_RMS_NORM = 2,       /* in0 = x, param0 = weight, f0 = eps */
  QR_OP_LINEAR = 3,         /* in0 = x, param0 = weight (or -1 and in1 = a
                               weight computed at run time), param1 = bias or -1 */
  QR_OP_ROPE = 4,           /* in0 = x, in1 = positions, i0 = head_dim,
                               i1 = style (0 rotate_half, 1 interleaved), f0 = theta */
  QR_OP_ATTENTION = 5,      /* in0..2 = q, k, v, in3 = mask or -1, i0 = heads,
                               i1 = kv_heads, i2 = head_dim, f0 = scale,
                               flags & 1 = causal */
  QR_OP_SWIGLU = 6,         /* silu(in0) * in1 */
  QR_OP_ADD = 7,            /* in0 + in1 */
  QR_OP_LAYER_END = 8,      /* out = in0; the output of layer i0 (hook point) */
  QR_OP_FAKE_QUANT = 9,     /* quantize-dequantize of in0 over its last axis:
                               i0 = bits, i1 = range (-1 per tensor, 0 per row,
                               > 0 per group of i1), flags & 1 = symmetric;
                               param0 = scale [1, 1] and param1 = zero point
                               (signed levels) for static ranges, else -1
                               (dynamic min-max ranges); param2 / param3 =
                               clip_max / clip_min logits, one per range, or -1
                               (dynamic ranges of a 2-D input only) */
  QR_OP_SMOOTH = 10,        /* in0 / param0 along the last axis */
  QR_OP_PARAM = 11,         /* out = param0 (a parameter as a value) */
  QR_OP_SMOOTH_WEIGHT = 12, /* in0 * param0 along the last axis */
  QR_OP_GATHER_TOKEN = 13,  /* out[b] = in0[b, in1[b]] */
  QR_OP_SQUARED_ERROR = 14, /* f0 * sum(in2 * mean_last((in0 - in1)^2)) */
  QR_OP_BOUNDARY_LOSS = 15  /* f1 * sum(in1 * softplus(f0 - (in0 . param0
                               + param1))), in0 = [B, D] */
};

enum qr_dtype {
  QR_DTYPE_F32 = 0,
  QR_DTYPE_F16 = 1,
  QR_DTYPE_BF16 = 2,
  QR_DTYPE_I8 = 3,
  QR_DTYPE_U8 = 4,
  QR_DTYPE_I32 = 5,
  QR_DTYPE_I64 = 6,
  QR_DTYPE_BOOL = 7 /* one byte per element, 0 or 1 */
};

#define QR_PARAM_TRAINABLE 1

typedef struct qr_param {
  const char *name;
  int32_t flags; /* QR_PARAM_TRAINABLE: calibration optimizes it */
  int32_t dtype; /* enum qr_dtype */
  int32_t rank;  /* <= 4 */
  int64_t shape[4];
  const void *data; /* little-endian, row-major */
} qr_param;

/* The quantization scheme of a linear (#qrealign.quant). */
typedef struct qr_quant {
  int32_t w_bits;      /* 16 = weights not quantized */
  int32_t a_bits;      /* 16 = activations not quantized */
  int32_t granularity; /* 0 per_tensor, 1 per_channel, 2 per_group */
  int32_t group_size;
  int32_t symmetric;
  int32_t act_static;
  int32_t act_symmetric; /* dynamic activations without a zero point */
} qr_quant;

typedef struct qr_instr {
  int32_t opcode;
  int32_t inputs[4]; /* value ids, -1 when absent */
  int32_t params[4]; /* parameter indices, -1 when absent */
  int32_t output;    /* value id */
  int64_t i0, i1, i2;
  double f0, f1;
  int32_t flags;
  qr_quant quant;
  const char *name; /* linear role ("q_proj", "lm_head", ...) or "" */
  int32_t layer;    /* enclosing layer index, -1 outside layers */
} qr_instr;

typedef struct qr_program {
  int32_t abi_version;
  int32_t num_params;
  const qr_param *params;
  int32_t num_instrs;
  const qr_instr *instrs;
  int32_t num_values;
  /* A model (@forward): its ids, positions, mask and logits values. A
     function program (any other function) has them at -1 and takes its
     arguments and results as `inputs` and `outputs` (value ids), through
     qr_engine_call and qr_engine_optimize_step; @forward lists its three
     arguments and its logits there too. */
  int32_t ids_value, positions_value, mask_value, logits_value;
  int32_t num_inputs, num_outputs;
  const int32_t *inputs;
  const int32_t *outputs;
  int64_t hidden_size, vocab_size;
  int32_t num_layers;
} qr_program;

typedef struct qr_engine qr_engine;

/* A host tensor given to or returned by a function program: row-major,
   little-endian. Outputs are f32; the caller states the shape it expects
   and provides the buffer, and the engine fails on any other shape. */
typedef struct qr_tensor {
  int32_t dtype; /* enum qr_dtype */
  int32_t rank;  /* <= 4 */
  int64_t shape[4];
  void *data;
} qr_tensor;

typedef struct qr_engine_options {
  const char *device;  /* "cpu" or "cuda" (or "cuda:N") */
  int32_t num_threads; /* intra-op threads on the CPU; <= 0 keeps libtorch's */
} qr_engine_options;

/* A replacement of the residual stream while the prompt runs (prefill):
   after qrealign.layer `layer` (0 <= layer < num_layers), at one position
   per sequence (`positions[b]`, counted as in qr_engine_capture), the state
   becomes values[b * hidden_size, (b + 1) * hidden_size). Later layers and
   the KV cache see the replaced state; decoding runs unpatched. */
typedef struct qr_patch {
  int32_t layer;
  const int32_t *positions;
  const float *values;
} qr_patch;

typedef struct qr_generate_options {
  int32_t max_new_tokens;
  int32_t num_eos;
  const int64_t *eos_ids; /* a sequence stops after emitting one of these */
  const qr_patch *patch;  /* NULL: none */
} qr_generate_options;

typedef struct qr_generate_stats {
  double prefill_seconds;
  double decode_seconds;
  int64_t prompt_tokens;
  int64_t generated_tokens;
} qr_generate_stats;

/* Batches: `batch` sequences given as `tokens` (all sequences concatenated)
   and `lengths` (each >= 1). The engine pads on the left and masks padding. */

QR_ENGINE_API int32_t qr_engine_abi_version(void);
/* Human-readable: the libtorch version and whether it has CUDA. */
QR_ENGINE_API const char *qr_engine_build_info(void);

QR_ENGINE_API qr_engine *qr_engine_create(const qr_program *program,
                                          const qr_engine_options *options,
                                          char *err, size_t err_len);
QR_ENGINE_API void qr_engine_destroy(qr_engine *engine);
/* The device the engine runs on ("cpu", "cuda:0"). */
QR_ENGINE_API const char *qr_engine_device(const qr_engine *engine);

/* Logits of the last token of each sequence (`all_positions` = 0:
   batch x vocab floats) or of every token (sum(lengths) x vocab). */
QR_ENGINE_API int32_t qr_engine_forward(qr_engine *engine, int32_t batch,
                                        const int64_t *tokens,
                                        const int32_t *lengths,
                                        int32_t all_positions, float *logits,
                                        char *err, size_t err_len);

/* The residual stream after each layer in `layers` (qrealign.layer indices;
   num_layers is the LM head's input, the final norm's output) at one
   position per sequence (`positions[b]` >= 0 counts from the start of
   sequence b, < 0 from its end: -1 is the last token). Writes
   batch x num_layers x hidden_size floats, layer-major within a sequence. */
QR_ENGINE_API int32_t qr_engine_capture(
    qr_engine *engine, int32_t batch, const int64_t *tokens,
    const int32_t *lengths, int32_t num_layers, const int32_t *layers,
    const int32_t *positions, float *out, char *err, size_t err_len);

/* The program's tail after the last qrealign.layer (the final norm and the
   LM head) applied to `count` states (count x hidden_size floats): writes
   count x vocab_size logits. Decoding any layer's state this way is the
   logit lens. Fails when the tail reads anything but the last layer's
   output. */
QR_ENGINE_API int32_t qr_engine_head(qr_engine *engine, int32_t count,
                                     const float *states, float *logits,
                                     char *err, size_t err_len);

/* Greedy decoding with a KV cache. Writes up to max_new_tokens ids per
   sequence into out_tokens (batch x max_new_tokens) and the count into
   out_lengths (the EOS token, when emitted, is included). */
QR_ENGINE_API int32_t
qr_engine_generate(qr_engine *engine, int32_t batch, const int64_t *tokens,
                   const int32_t *lengths, const qr_generate_options *options,
                   int64_t *out_tokens, int32_t *out_lengths,
                   qr_generate_stats *stats, char *err, size_t err_len);

/* Training (libtorch autograd, AdamW with decoupled weight decay on matrices
   only). Between train_begin and train_end, forward/capture/generate run the
   model being trained. Training needs a full-precision program: linears with
   a quantization scheme are rejected. */
typedef struct qr_train_options {
  double weight_decay;
  double beta1, beta2, eps;
  double grad_clip;  /* max global gradient norm; <= 0: none */
  int32_t lora_rank; /* 0: full fine-tuning of every parameter */
  double lora_alpha; /* adapter scale = lora_alpha / lora_rank */
  const char
      *lora_targets;   /* linear roles, comma-separated ("q_proj,v_proj") */
  uint64_t seed;       /* LoRA A initialisation and dropout masks */
  double lora_dropout; /* dropout on the adapters' input, in [0, 1) */
  /* Optimize the parameters flagged QR_PARAM_TRAINABLE only (calibration):
     the others stay frozen, quantized programs are allowed, and steps go
     through qr_engine_optimize_step. lora_rank must be 0. */
  int32_t trainable_only;
  /* trainable_only: the learning-rate factor of each trainable parameter,
     in program order (NULL: 1 for all). */
  const double *lr_scales;
} qr_train_options;

QR_ENGINE_API int32_t qr_engine_train_begin(qr_engine *engine,
                                            const qr_train_options *options,
                                            char *err, size_t err_len);
/* One optimizer step with learning rate `lr` on next-token cross-entropy.
   `target_mask` has one byte per token (concatenated like `tokens`): 1 where
   the token is a training target, predicted from the tokens before it (the
   first token of a sequence cannot be one). Writes the mean loss over
   targets. */
QR_ENGINE_API int32_t qr_engine_train_step(qr_engine *engine, int32_t batch,
                                           const int64_t *tokens,
                                           const int32_t *lengths,
                                           const uint8_t *target_mask,
                                           double lr, float *loss, char *err,
                                           size_t err_len);
/* Function programs. qr_engine_call runs the program on `inputs` (one per
   program input, in order) and writes each output into `outputs`, whose
   shapes the caller states. qr_engine_optimize_step (between train_begin
   with trainable_only and train_end) takes one AdamW step with learning
   rate `lr` (times each tensor's lr_scale) on output 0, a scalar, and
   writes its value before the step into `loss`; when that value is not
   finite, nothing changes (the caller decides what to do). */
QR_ENGINE_API int32_t qr_engine_call(qr_engine *engine, int32_t num_inputs,
                                     const qr_tensor *inputs,
                                     int32_t num_outputs, qr_tensor *outputs,
                                     char *err, size_t err_len);
QR_ENGINE_API int32_t qr_engine_optimize_step(qr_engine *engine,
                                              int32_t num_inputs,
                                              const qr_tensor *inputs,
                                              double lr, float *loss, char *err,
                                              size_t err_len);
/* Mean next-token loss over targets, without updating anything. */
QR_ENGINE_API int32_t qr_engine_eval_loss(qr_engine *engine, int32_t batch,
                                          const int64_t *tokens,
                                          const int32_t *lengths,
                                          const uint8_t *target_mask,
                                          float *loss, char *err,
                                          size_t err_len);
/* Ends training: LoRA adapters are merged into their weights
   (W += lora_alpha / lora_rank * B A) and the engine runs inference again. */
QR_ENGINE_API int32_t qr_engine_train_end(qr_engine *engine, char *err,
                                          size_t err_len);
/* The training state, for checkpoints that resume exactly: the trainable
   tensors (every parameter in program order with full fine-tuning; the A then
   B matrix of each adapter, in program order, with LoRA), their AdamW moments
   and the number of steps taken. Dropout masks are drawn from (seed, step),
   so a restored state continues as the uninterrupted run would.
   train_state_info writes the number of tensors and the step count;
   train_state_get writes the element count of tensor `index` into `numel`
   and, when `value` is not null, copies the tensor and its two moments
   (`numel` floats each); train_state_set copies them back (`numel` must
   match) and sets the step count. */
QR_ENGINE_API int32_t qr_engine_train_state_info(qr_engine *engine,
                                                 int32_t *num_tensors,
                                                 int64_t *step, char *err,
                                                 size_t err_len);
QR_ENGINE_API int32_t qr_engine_train_state_get(qr_engine *engine,
                                                int32_t index, int64_t *numel,
                                                float *value, float *m,
                                                float *v, char *err,
                                                size_t err_len);
QR_ENGINE_API int32_t qr_engine_train_state_set(qr_engine *engine, int64_t step,
                                                int32_t index, int64_t numel,
                                                const float *value,
                                                const float *m, const float *v,
                                                char *err, size_t err_len);
/* Copies parameter `index` (in program order) as float32 into `out`
   (as many floats as it has elements). */
QR_ENGINE_API int32_t qr_engine_read_param(qr_engine *engine, int32_t index,
                                           float *out, char *err,
                                           size_t err_len);

#ifdef __cplusplus
}
#endif

#endif /* QREALIGN_ENGINE_ENGINEAPI_H */
