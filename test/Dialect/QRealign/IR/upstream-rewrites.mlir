// RUN: qrealign-opt %s --cse --canonicalize --symbol-dce | FileCheck %s
// RUN: qrealign-opt %s --cse --canonicalize --symbol-dce --qrealign-check-fusion | FileCheck %s

// Upstream rewrites never turn valid IR invalid: no verifier looks at an
// op's neighbours. Two identical norms feed linears with different schemes;
// CSE merges the norms, so the linears now read one value (the old fusion
// rule in the linear verifier then rejected the module). The q/k group
// reads two identical adds, which CSE merges into the one input the group
// needs. --symbol-dce drops the unused parameter.

// CHECK-LABEL: func.func @f
// CHECK-NOT: qrealign.param @unused
// CHECK: %[[N:.*]] = qrealign.rms_norm
// CHECK-NOT: qrealign.rms_norm
// CHECK: qrealign.linear "o_proj" %[[N]], {{.*}}w_bits = 4
// CHECK: qrealign.linear "down_proj" %[[N]], {{.*}}w_bits = 8
// CHECK: %[[A:.*]] = qrealign.add
// CHECK-NOT: qrealign.add
// CHECK: qrealign.linear "q_proj" %[[A]]
// CHECK: qrealign.linear "k_proj" %[[A]]
module {
  qrealign.param @unused : tensor<4xf32> = dense<1.0>
  qrealign.param @norm : tensor<64xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
    %nw = qrealign.get_param @norm : tensor<64xf32>
    %n1 = qrealign.rms_norm %x, %nw eps = 1.0e-5 : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %n2 = qrealign.rms_norm %x, %nw eps = 1.0e-5 : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
    %a = qrealign.linear "o_proj" %n1, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    %b = qrealign.linear "down_proj" %n2, %w {quant = #qrealign.quant<w_bits = 8>} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    %s1 = qrealign.add %x, %a : tensor<?x?x64xf32>
    %s2 = qrealign.add %x, %a : tensor<?x?x64xf32>
    %q = qrealign.linear "q_proj" %s1, %w {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    %k = qrealign.linear "k_proj" %s2, %w {fusion = "qkv"} : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
    return %a, %b, %q, %k : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
  }
}
