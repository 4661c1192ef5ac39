// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --qrealign-quantize-weights="form=fake lwc smooth qk file=%t/learn.safetensors scope=learn" -o %t/fake.mlir
// RUN: FileCheck %s --input-file %t/fake.mlir
// RUN: %python %S/Inputs/read-safetensors.py %t/learn.safetensors | FileCheck %s --check-prefix=FILE
// Upstream clean-up afterwards keeps the IR valid and the fusion group
// deployable (the three linears still read one smoothed input).
// RUN: qrealign-opt %t/fake.mlir --cse --canonicalize --symbol-dce --qrealign-check-fusion | FileCheck %s --check-prefix=DCE
// Without lwc or smooth, the fake form needs no file: Q/K alone.
// RUN: qrealign-opt %s --qrealign-quantize-weights="form=fake qk" | FileCheck %s --check-prefix=PLAIN

// The calibration form of a W4A8 g8 attention block: learnable clipping
// logits per output channel and group (16 x 2), initialised to 4; one
// smoothing scale on the norm's output, shared by q/k/v, whose weights
// carry its inverse under their fake_quantize; Q and K quantized per token
// and head (group_size = head_dim = 8) at 8 bits after RoPE.

// CHECK: module attributes {qrealign.params = {learn = "learn.safetensors"}}
// CHECK: qrealign.param @norm : tensor<16xf32>
// CHECK-NEXT: qrealign.param @norm.smooth_scale : tensor<16xf32> = #qrealign.external<"learn"::"norm.smooth_scale">
// CHECK-NEXT: qrealign.param @wq : tensor<16x16xbf16>
// CHECK-NEXT: qrealign.param @wq.weight_clip_max : tensor<16x2xf32> = #qrealign.external<"learn"::"wq.weight_clip_max">
// CHECK-NEXT: qrealign.param @wq.weight_clip_min : tensor<16x2xf32> = #qrealign.external<"learn"::"wq.weight_clip_min">
// CHECK: qrealign.param @wv.weight_clip_max
// The symmetric k_proj has no lower clipping factor.
// CHECK-NOT: @wk.weight_clip_min
// CHECK-LABEL: func.func @f
// CHECK: %[[N:.*]] = qrealign.rms_norm
// CHECK: %[[S:.*]] = qrealign.get_param @norm.smooth_scale
// CHECK: %[[X:.*]] = qrealign.smooth %[[N]], %[[S]]
// CHECK: %[[WQ:.*]] = qrealign.get_param @wq : tensor<16x16xbf16>
// CHECK: %[[CMAX:.*]] = qrealign.get_param @wq.weight_clip_max
// CHECK: %[[CMIN:.*]] = qrealign.get_param @wq.weight_clip_min
// CHECK: %[[SW:.*]] = qrealign.smooth_weight %[[WQ]], %[[S]] : (tensor<16x16xbf16>, tensor<16xf32>) -> tensor<16x16xf32>
// CHECK: %[[FQ:.*]] = qrealign.fake_quantize %[[SW]] clip %[[CMAX]], %[[CMIN]] bits = 4 per_group group_size = 8 : (tensor<16x16xf32>, tensor<16x2xf32>, tensor<16x2xf32>) -> tensor<16x16xf32>
// CHECK: %[[Q:.*]] = qrealign.linear "q_proj" %[[X]], %[[FQ]]
// CHECK: qrealign.fake_quantize %{{.*}} clip %{{.*}} bits = 4 per_group group_size = 8 symmetric : (tensor<16x16xf32>, tensor<16x2xf32>) -> tensor<16x16xf32>
// CHECK: %[[K:.*]] = qrealign.linear "k_proj" %[[X]]
// CHECK: qrealign.linear "v_proj" %[[X]]
// CHECK: %[[QR:.*]] = qrealign.rope rotate_half %[[Q]]
// CHECK: %[[KR:.*]] = qrealign.rope rotate_half %[[K]]
// CHECK: %[[Q8:.*]] = qrealign.fake_quantize %[[QR]] bits = 8 per_group group_size = 8 : (tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
// CHECK: %[[K8:.*]] = qrealign.fake_quantize %[[KR]] bits = 8 per_group group_size = 8
// CHECK: qrealign.attention %[[Q8]], %[[K8]], %{{.*}} heads = 2
// The o_proj reads the attention output, not a norm: no smoothing there.
// CHECK-NOT: qrealign.smooth %
// CHECK: qrealign.linear "o_proj"

// FILE: norm.smooth_scale F32 [16] 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1
// FILE-NEXT: wk.weight_clip_max F32 [16, 2] 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4
// FILE-NEXT: wo.weight_clip_max F32 [16, 1]
// FILE-NEXT: wo.weight_clip_min F32 [16, 1]
// FILE-NEXT: wq.weight_clip_max F32 [16, 2]
// FILE-NEXT: wq.weight_clip_min F32 [16, 2]

// DCE: qrealign.smooth
// DCE-COUNT-4: qrealign.fake_quantize %{{.*}} clip

// PLAIN-NOT: qrealign.params
// PLAIN-NOT: clip
// PLAIN: qrealign.fake_quantize %{{.*}} bits = 4 per_group group_size = 8 :
// PLAIN-NOT: qrealign.smooth
// PLAIN: qrealign.fake_quantize %{{.*}} bits = 8 per_group group_size = 8 :

module {
  qrealign.param @norm : tensor<16xf32> = dense<1.0>
  qrealign.param @wq : tensor<16x16xbf16> = dense<0.25>
  qrealign.param @wk : tensor<16x16xf32> = dense<-0.5>
  qrealign.param @wv : tensor<16x16xf32> = dense<0.75>
  qrealign.param @wo : tensor<16x16xf32> = dense<0.125>
  func.func @f(%x: tensor<?x?x16xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x16xf32> {
    %g = qrealign.get_param @norm : tensor<16xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
    %wq = qrealign.get_param @wq : tensor<16x16xbf16>
    %wk = qrealign.get_param @wk : tensor<16x16xf32>
    %wv = qrealign.get_param @wv : tensor<16x16xf32>
    %wo = qrealign.get_param @wo : tensor<16x16xf32>
    %q = qrealign.linear "q_proj" %n, %wq {fusion = "qkv", quant = #qrealign.quant<w_bits = 4, a_bits = 8, granularity = per_group, group_size = 8>} : (tensor<?x?x16xf32>, tensor<16x16xbf16>) -> tensor<?x?x16xf32>
    %k = qrealign.linear "k_proj" %n, %wk {quant = #qrealign.quant<w_bits = 4, a_bits = 8, granularity = per_group, group_size = 8, symmetric = true>} : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
    %v = qrealign.linear "v_proj" %n, %wv {fusion = "qkv", quant = #qrealign.quant<w_bits = 4, a_bits = 8, granularity = per_group, group_size = 8>} : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
    %qr = qrealign.rope rotate_half %q, %pos head_dim = 8 theta = 1.0e4 : (tensor<?x?x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
    %kr = qrealign.rope rotate_half %k, %pos head_dim = 8 theta = 1.0e4 : (tensor<?x?x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
    %a = qrealign.attention %qr, %kr, %v heads = 2 kv_heads = 2 head_dim = 8 scale = 0.35355339059327379 causal : (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x?x16xf32>
    %o = qrealign.linear "o_proj" %a, %wo {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x?x16xf32>, tensor<16x16xf32>) -> tensor<?x?x16xf32>
    return %o : tensor<?x?x16xf32>
  }
}
