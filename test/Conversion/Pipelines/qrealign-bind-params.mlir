// RUN: qrealign-opt %s --qrealign-bind-params --split-input-file -verify-diagnostics | FileCheck %s

// Each parameter read becomes one argument, in the order of first reads,
// with the symbol as the manifest; a read inside a layer enters through
// the layer's inputs (once per layer); the declarations stay.
// CHECK-LABEL: qrealign.param @w : tensor<4x8xbf16>
// CHECK: qrealign.param @n : tensor<8xf32>
// CHECK: func.func @f(%[[X:.*]]: tensor<?x?x8xf32>, %[[W:.*]]: tensor<4x8xbf16> {qrealign.param = @w}, %[[N:.*]]: tensor<8xf32> {qrealign.param = @n}) -> tensor<?x?x4xf32>
// CHECK-NOT: qrealign.get_param
// CHECK: qrealign.layer 0 (%[[X]], %[[N]]) : (tensor<?x?x8xf32>, tensor<8xf32>)
// CHECK: ^bb0(%[[H:.*]]: tensor<?x?x8xf32>, %[[LN:.*]]: tensor<8xf32>):
// CHECK: qrealign.rms_norm %[[H]], %[[LN]]
// CHECK: qrealign.add %{{.*}}, %{{.*}}
// CHECK: qrealign.linear "lm_head" %{{.*}}, %[[W]]
// A function without reads is left alone.
// CHECK: func.func @g(%{{.*}}: tensor<2xf32>) -> tensor<2xf32>
qrealign.param @w : tensor<4x8xbf16> = dense<1.0>
qrealign.param @n : tensor<8xf32> = dense<1.0>
func.func @f(%x: tensor<?x?x8xf32>) -> tensor<?x?x4xf32> {
  %w = qrealign.get_param @w : tensor<4x8xbf16>
  %h = qrealign.layer 0 (%x) : (tensor<?x?x8xf32>) -> tensor<?x?x8xf32> {
  ^bb0(%a: tensor<?x?x8xf32>):
    %n = qrealign.get_param @n : tensor<8xf32>
    %n2 = qrealign.get_param @n : tensor<8xf32>
    %y = qrealign.rms_norm %a, %n eps = 1.0e-05 : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %z = qrealign.rms_norm %y, %n2 eps = 1.0e-05 : (tensor<?x?x8xf32>, tensor<8xf32>) -> tensor<?x?x8xf32>
    %r = qrealign.add %a, %z : tensor<?x?x8xf32>
    qrealign.yield %r : tensor<?x?x8xf32>
  }
  %o = qrealign.linear "lm_head" %h, %w : (tensor<?x?x8xf32>, tensor<4x8xbf16>) -> tensor<?x?x4xf32>
  return %o : tensor<?x?x4xf32>
}
func.func @g(%x: tensor<2xf32>) -> tensor<2xf32> {
  return %x : tensor<2xf32>
}

// -----

qrealign.param @w : tensor<2xf32> = dense<1.0>
// expected-error @below {{qrealign-bind-params: @callee reads parameters and is called: its callers would have to pass them}}
func.func @callee(%x: tensor<2xf32>) -> tensor<2xf32> {
  %w = qrealign.get_param @w : tensor<2xf32>
  %y = qrealign.add %x, %w : tensor<2xf32>
  return %y : tensor<2xf32>
}
func.func @caller(%x: tensor<2xf32>) -> tensor<2xf32> {
  %y = func.call @callee(%x) : (tensor<2xf32>) -> tensor<2xf32>
  return %y : tensor<2xf32>
}
