/*===- CAPI.h - The C interface of the compiled-model runtime -----*- C -*-===*\
|*                                                                            *|
|* For programs that embed qrealign's ahead-of-time models: load an object    *|
|* file that qrealign-compile wrote (its parameters memory-mapped from the    *|
|* safetensors files its embedded manifest names, every tensor checked        *|
|* against it), then compute last-token logits or decode greedily, on token   *|
|* ids (tokenize with your own tokenizer). Library: libqrealign_compiled.so   *|
|* (target QRealignCompiledC); no C++ type crosses this interface.            *|
|*                                                                            *|
|* Every function that can fail returns 0 on success and 1 on failure, with   *|
|* a message in `err` (at most `err_len` bytes, NUL-terminated; `err` may be  *|
|* NULL). A model is not thread-safe: call it from one thread at a time.      *|
\*===----------------------------------------------------------------------===*/

#ifndef QREALIGN_COMPILED_CAPI_H
#define QREALIGN_COMPILED_CAPI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define QR_COMPILED_API __attribute__((visibility("default")))

typedef struct qr_compiled_model qr_compiled_model;

/* Loads `object_path`. `scope_files` holds `num_scope_files` "SCOPE=PATH"
   strings that move a parameter scope's file (as qrealign-run --params);
   relative paths in the manifest are relative to the object's directory. */
QR_COMPILED_API int qr_compiled_load(const char *object_path,
                                     const char *const *scope_files,
                                     size_t num_scope_files,
                                     qr_compiled_model **model, char *err,
                                     size_t err_len);

/* The vocabulary size: the length of qr_compiled_logits' output. */
QR_COMPILED_API int64_t qr_compiled_vocab_size(const qr_compiled_model *model);

/* The logits of the last of `num_ids` tokens (positions 0..), written to
   `logits` (qr_compiled_vocab_size floats). */
QR_COMPILED_API int qr_compiled_logits(qr_compiled_model *model,
                                       const int64_t *ids, size_t num_ids,
                                       float *logits, char *err,
                                       size_t err_len);

/* Greedy decoding after the `num_ids` prompt tokens: at most
   `max_new_tokens` new tokens, stopping after one of the `num_eos` ids in
   `eos_ids`. The new tokens go to `out` (room for `out_capacity`; fewer is
   an error), their count to `*num_out`. */
QR_COMPILED_API int qr_compiled_generate(qr_compiled_model *model,
                                         const int64_t *ids, size_t num_ids,
                                         int32_t max_new_tokens,
                                         const int64_t *eos_ids, size_t num_eos,
                                         int64_t *out, size_t out_capacity,
                                         size_t *num_out, char *err,
                                         size_t err_len);

QR_COMPILED_API void qr_compiled_free(qr_compiled_model *model);

#ifdef __cplusplus
}
#endif

#endif /* QREALIGN_COMPILED_CAPI_H */
