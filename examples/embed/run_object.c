/*===- run_object.c - Embedding a compiled model through the C API ------===*\
|*                                                                          *|
|* Part of the qrealign project.                                            *|
|*                                                                          *|
|* qrealign-embed-example OBJECT [--params SCOPE=PATH]... [--new N]         *|
|*                        [--logits] ID...                                  *|
|*                                                                          *|
|* Loads an object file that qrealign-compile wrote, through                *|
|* libqrealign_compiled.so (include/qrealign/Compiled/CAPI.h), and prints   *|
|* the greedy continuation of the prompt ids (N new tokens, default 8, no   *|
|* end-of-sequence stop), or with --logits the last token's logits, one per *|
|* line. Plain C: what a program that embeds qrealign sees.                 *|
\*===----------------------------------------------------------------------===*/

#include "qrealign/Compiled/CAPI.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int usage(void) {
  fprintf(stderr, "usage: qrealign-embed-example OBJECT [--params SCOPE=PATH]"
                  "... [--new N] [--logits] ID...\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *object = NULL;
  const char **scopes = calloc((size_t)argc, sizeof(char *));
  int64_t *ids = calloc((size_t)argc, sizeof(int64_t));
  size_t numScopes = 0, numIds = 0;
  int newTokens = 8, logits = 0, status = 0;
  qr_compiled_model *model = NULL;
  char err[4096];
  for (int i = 1; i < argc && status == 0; ++i) {
    char *end = NULL;
    if (!strcmp(argv[i], "--params") && i + 1 < argc) {
      scopes[numScopes++] = argv[++i];
    } else if (!strcmp(argv[i], "--new") && i + 1 < argc) {
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 0 || v > 1000000)
        status = usage();
      newTokens = (int)v;
    } else if (!strcmp(argv[i], "--logits")) {
      logits = 1;
    } else if (!object) {
      object = argv[i];
    } else {
      long long v = strtoll(argv[i], &end, 10);
      if (*end || end == argv[i])
        status = usage();
      ids[numIds++] = (int64_t)v;
    }
  }
  if (status == 0 && (!object || !numIds))
    status = usage();
  if (status)
    goto done;

  if (qr_compiled_load(object, scopes, numScopes, &model, err, sizeof err)) {
    fprintf(stderr, "qrealign-embed-example: %s\n", err);
    status = 1;
    goto done;
  }
  if (logits) {
    int64_t vocab = qr_compiled_vocab_size(model);
    float *row = malloc((size_t)vocab * sizeof(float));
    if (qr_compiled_logits(model, ids, numIds, row, err, sizeof err)) {
      fprintf(stderr, "qrealign-embed-example: %s\n", err);
      status = 1;
    } else {
      for (int64_t v = 0; v < vocab; ++v)
        printf("%.9g\n", row[v]);
    }
    free(row);
  } else {
    int64_t *out =
        malloc((size_t)(newTokens ? newTokens : 1) * sizeof(int64_t));
    size_t numOut = 0;
    if (qr_compiled_generate(model, ids, numIds, newTokens, NULL, 0, out,
                             (size_t)newTokens, &numOut, err, sizeof err)) {
      fprintf(stderr, "qrealign-embed-example: %s\n", err);
      status = 1;
    } else {
      for (size_t i = 0; i < numOut; ++i)
        printf(i ? " %lld" : "%lld", (long long)out[i]);
      printf("\n");
    }
    free(out);
  }
done:
  qr_compiled_free(model);
  free(scopes);
  free(ids);
  return status;
}
