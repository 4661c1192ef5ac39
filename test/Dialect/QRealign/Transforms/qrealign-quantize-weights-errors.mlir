// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --split-input-file --qrealign-quantize-weights="file=%t/q.safetensors" --verify-diagnostics
// RUN: not test -e %t/q.safetensors
// RUN: qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights --verify-diagnostics
// RUN: not qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights="file=%t/q.safetensors scope=a/b" 2>&1 | FileCheck %s --check-prefix=SCOPE
// SCOPE: error: qrealign-quantize-weights: scope 'a/b' is not a name ([A-Za-z_][A-Za-z0-9_-]*)
// RUN: not qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights="file=%t/q.safetensors form=int4" 2>&1 | FileCheck %s --check-prefix=FORM
// FORM: error: qrealign-quantize-weights: form must be packed or fake, got 'int4'
// RUN: not qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights="file=%t/q.safetensors lwc" 2>&1 | FileCheck %s --check-prefix=LWC
// LWC: error: qrealign-quantize-weights: lwc belongs to the calibration form: add form=fake
// RUN: not qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights="file=%t/q.safetensors smooth" 2>&1 | FileCheck %s --check-prefix=SMOOTH
// SMOOTH: error: qrealign-quantize-weights: smooth belongs to the calibration form: add form=fake
// RUN: not qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights="form=fake lwc" 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: qrealign-quantize-weights: set file=PATH, the safetensors file to write the 2 new tensors to
// Without learnable tensors the fake form writes nothing and needs no file.
// RUN: qrealign-opt %S/Inputs/one-linear.mlir --qrealign-quantize-weights="form=fake" | FileCheck %s --check-prefix=NOTHING
// NOTHING-NOT: qrealign.params
// NOTHING: qrealign.fake_quantize
// Nothing is written on error, and the IR is not changed (checked above by
// --verify-diagnostics finding only the expected errors).

// expected-error @+1 {{qrealign-quantize-weights: scope 'quant' is already mapped (to "old.safetensors"); choose another scope=}}
module attributes {qrealign.params = {quant = "old.safetensors"}} {
  qrealign.param @w : tensor<2x8xf32> = dense<1.0>
  func.func @f(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x8xf32>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

module {
  // expected-error @+1 {{qrealign-quantize-weights: parameter scope 'model' has no file: map it in 'qrealign.params' or pass --params model=PATH}}
  qrealign.param @w : tensor<2x8xf32> = #qrealign.external<"model"::"w">
  func.func @f(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x8xf32>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

module attributes {qrealign.params = {model = "does-not-exist.safetensors"}} {
  // expected-error @+1 {{qrealign-quantize-weights: parameter scope 'model': }}
  qrealign.param @w : tensor<2x8xf32> = #qrealign.external<"model"::"w">
  func.func @f(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x8xf32>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

module {
  qrealign.param @w : tensor<2x7xf32> = dense<1.0>
  func.func @f(%x: tensor<3x7xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x7xf32>
    // expected-error @+1 {{qrealign-quantize-weights: 4-bit levels are packed two per byte along the 7 input channels, which must be even}}
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x7xf32>, tensor<2x7xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

module {
  // Weights are read from f32, f16 or bf16.
  // expected-error @+1 {{qrealign-quantize-weights: cannot read 'tensor<2x8xf64>' as floats (128 bytes)}}
  qrealign.param @w : tensor<2x8xf64> = dense<1.0>
  func.func @f(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x8xf64>
    %y = qrealign.linear "o_proj" %x, %w {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x8xf32>, tensor<2x8xf64>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}

// -----

// A calibrated weight still smoothed cannot be packed: fold first.
module {
  qrealign.param @w : tensor<2x8xf32> = dense<1.0>
  qrealign.param @s : tensor<8xf32> = dense<2.0>
  qrealign.param @c : tensor<2x1xf32> = dense<4.0>
  func.func @f(%x: tensor<3x8xf32>) -> tensor<3x2xf32> {
    %w = qrealign.get_param @w : tensor<2x8xf32>
    %s = qrealign.get_param @s : tensor<8xf32>
    %c = qrealign.get_param @c : tensor<2x1xf32>
    %ws = qrealign.smooth_weight %w, %s : (tensor<2x8xf32>, tensor<8xf32>) -> tensor<2x8xf32>
    // expected-error @+1 {{qrealign-quantize-weights: a smoothed weight cannot be packed: run qrealign-fold-smoothing first}}
    %wq = qrealign.fake_quantize %ws clip %c, %c bits = 4 per_channel : (tensor<2x8xf32>, tensor<2x1xf32>, tensor<2x1xf32>) -> tensor<2x8xf32>
    %xs = qrealign.smooth %x, %s : (tensor<3x8xf32>, tensor<8xf32>) -> tensor<3x8xf32>
    %y = qrealign.linear "o_proj" %xs, %wq {quant = #qrealign.quant<w_bits = 4>} : (tensor<3x8xf32>, tensor<2x8xf32>) -> tensor<3x2xf32>
    return %y : tensor<3x2xf32>
  }
}
