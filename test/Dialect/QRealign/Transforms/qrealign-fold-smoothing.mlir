// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-fold-smoothing="file=%t/folded.safetensors" -o %t/folded.mlir
// RUN: FileCheck %s --input-file %t/folded.mlir
// RUN: %python %S/Inputs/read-safetensors.py %t/folded.safetensors | FileCheck %s --check-prefix=FILE
// RUN: qrealign-opt %t/folded.mlir --cse --canonicalize --symbol-dce | FileCheck %s --check-prefix=DCE
// A module without smoothing is left alone, with a warning.
// RUN: qrealign-opt %t/folded.mlir --qrealign-fold-smoothing="file=%t/again.safetensors scope=again" -o /dev/null 2>&1 | FileCheck %s --check-prefix=AGAIN
// RUN: not test -e %t/again.safetensors

// g = [1, 2, 3, 4] and s = [2, 4, 0.5, 1]: the norm weight becomes g / s =
// [0.5, 0.5, 6, 4]; each weight's column k is multiplied by s[k], under
// the fake_quantize (q_proj) or directly (k_proj). The scale, the float
// originals and both ops are gone; the folded parameters take the names of
// the tensors they replace.

// CHECK: module attributes {qrealign.params = {smooth = "folded.safetensors"}}
// CHECK-NOT: @s :
// CHECK-DAG: qrealign.param @norm : tensor<4xf32> = #qrealign.external<"smooth"::"norm">
// CHECK-DAG: qrealign.param @wq : tensor<2x4xf32> = #qrealign.external<"smooth"::"wq">
// CHECK-DAG: qrealign.param @wk : tensor<2x4xf32> = #qrealign.external<"smooth"::"wk">
// CHECK-LABEL: func.func @f
// CHECK-NOT: qrealign.smooth
// CHECK: %[[G:.*]] = qrealign.get_param @norm
// CHECK: %[[N:.*]] = qrealign.rms_norm %arg0, %[[G]]
// CHECK: %[[WQ:.*]] = qrealign.get_param @wq
// CHECK: %[[FQ:.*]] = qrealign.fake_quantize %[[WQ]] bits = 4 per_channel
// CHECK: qrealign.linear "q_proj" %[[N]], %[[FQ]]
// CHECK: %[[WK:.*]] = qrealign.get_param @wk
// CHECK: qrealign.linear "k_proj" %[[N]], %[[WK]]

// FILE: norm F32 [4] 0.5 0.5 6 4
// FILE-NEXT: wk F32 [2, 4] 2 4 0.5 1 -2 -4 -0.5 -1
// FILE-NEXT: wq F32 [2, 4] 2 8 1.5 4 0 0 0 0

// DCE: qrealign.rms_norm
// DCE-NOT: qrealign.smooth

// AGAIN: warning: qrealign-fold-smoothing: no qrealign.smooth to fold; nothing written

module {
  qrealign.param @norm : tensor<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>
  qrealign.param @s : tensor<4xf32> = dense<[2.0, 4.0, 0.5, 1.0]>
  qrealign.param @wq : tensor<2x4xbf16> = dense<[[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 0.0, 0.0]]>
  qrealign.param @wk : tensor<2x4xf32> = dense<[[1.0, 1.0, 1.0, 1.0], [-1.0, -1.0, -1.0, -1.0]]>
  func.func @f(%x: tensor<?x?x4xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x2xf32>) {
    %g = qrealign.get_param @norm : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %s = qrealign.get_param @s : tensor<4xf32>
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %wq = qrealign.get_param @wq : tensor<2x4xbf16>
    %sq = qrealign.smooth_weight %wq, %s : (tensor<2x4xbf16>, tensor<4xf32>) -> tensor<2x4xf32>
    %fq = qrealign.fake_quantize %sq bits = 4 per_channel : (tensor<2x4xf32>) -> tensor<2x4xf32>
    %q = qrealign.linear "q_proj" %xs, %fq : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    %wk = qrealign.get_param @wk : tensor<2x4xf32>
    %sk = qrealign.smooth_weight %wk, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %k = qrealign.linear "k_proj" %xs, %sk : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    return %q, %k : tensor<?x?x2xf32>, tensor<?x?x2xf32>
  }
}
