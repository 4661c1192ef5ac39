// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %s --split-input-file --qrealign-fold-smoothing="file=%t/f.safetensors" --verify-diagnostics
// RUN: not test -e %t/f.safetensors
// RUN: not qrealign-opt %S/qrealign-fold-smoothing.mlir --qrealign-fold-smoothing 2>&1 | FileCheck %s --check-prefix=NOFILE
// NOFILE: error: qrealign-fold-smoothing: set file=PATH, the safetensors file to write the folded tensors to
// RUN: not qrealign-opt %S/qrealign-fold-smoothing.mlir --qrealign-fold-smoothing="file=%t/f.safetensors scope=9" 2>&1 | FileCheck %s --check-prefix=SCOPE
// SCOPE: error: qrealign-fold-smoothing: scope '9' is not a name

// The input is not an rms_norm.
module {
  qrealign.param @s : tensor<4xf32> = dense<2.0>
  qrealign.param @w : tensor<2x4xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x4xf32>) -> tensor<?x?x2xf32> {
    %s = qrealign.get_param @s : tensor<4xf32>
    // expected-error @+1 {{qrealign-fold-smoothing: the input must come from a qrealign.rms_norm to fold the scale into}}
    %xs = qrealign.smooth %x, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %w = qrealign.get_param @w : tensor<2x4xf32>
    %sw = qrealign.smooth_weight %w, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %y = qrealign.linear "q_proj" %xs, %sw : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    return %y : tensor<?x?x2xf32>
  }
}

// -----

// The scale is not a parameter.
module {
  qrealign.param @g : tensor<4xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x4xf32>, %s: tensor<4xf32>, %w: tensor<2x4xf32>) -> tensor<?x?x2xf32> {
    %g = qrealign.get_param @g : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    // expected-error @+1 {{qrealign-fold-smoothing: the rms_norm weight and the scale must be parameters (qrealign.get_param)}}
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %y = qrealign.linear "q_proj" %xs, %w : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    return %y : tensor<?x?x2xf32>
  }
}

// -----

// A consumer's weight does not carry the inverse: folding would change the function.
module {
  qrealign.param @g : tensor<4xf32> = dense<1.0>
  qrealign.param @s : tensor<4xf32> = dense<2.0>
  qrealign.param @t : tensor<4xf32> = dense<3.0>
  qrealign.param @w : tensor<2x4xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x4xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x4xf32>) {
    %g = qrealign.get_param @g : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %s = qrealign.get_param @s : tensor<4xf32>
    // expected-note @+1 {{the smoothing op}}
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %w = qrealign.get_param @w : tensor<2x4xf32>
    %t = qrealign.get_param @t : tensor<4xf32>
    %sw = qrealign.smooth_weight %w, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %tw = qrealign.smooth_weight %w, %t : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    // expected-error @+1 {{qrealign-fold-smoothing: reads a smoothed edge without the inverse on its weight (a qrealign.linear whose weight is qrealign.smooth_weight, or a fake_quantize of one, with the same scale @s)}}
    %a = qrealign.linear "q_proj" %xs, %w : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    %c = qrealign.add %x, %x : tensor<?x?x4xf32>
    return %a, %c : tensor<?x?x2xf32>, tensor<?x?x4xf32>
  }
}

// -----

// A smooth_weight with another scale is not the inverse either.
module {
  qrealign.param @g : tensor<4xf32> = dense<1.0>
  qrealign.param @s : tensor<4xf32> = dense<2.0>
  qrealign.param @t : tensor<4xf32> = dense<3.0>
  qrealign.param @w : tensor<2x4xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x4xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x4xf32>) {
    %g = qrealign.get_param @g : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %s = qrealign.get_param @s : tensor<4xf32>
    // expected-note @+1 {{the smoothing op}}
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %w = qrealign.get_param @w : tensor<2x4xf32>
    %t = qrealign.get_param @t : tensor<4xf32>
    %sw = qrealign.smooth_weight %w, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %tw = qrealign.smooth_weight %w, %t : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    // expected-error @+1 {{qrealign-fold-smoothing: reads a smoothed edge without the inverse on its weight}}
    %a = qrealign.linear "q_proj" %xs, %tw : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    %c = qrealign.add %x, %x : tensor<?x?x4xf32>
    return %a, %c : tensor<?x?x2xf32>, tensor<?x?x4xf32>
  }
}

// -----

// A user that is not a linear cannot take the scale (reported once, though it reads the edge twice).
module {
  qrealign.param @g : tensor<4xf32> = dense<1.0>
  qrealign.param @s : tensor<4xf32> = dense<2.0>
  qrealign.param @t : tensor<4xf32> = dense<3.0>
  qrealign.param @w : tensor<2x4xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x4xf32>) -> (tensor<?x?x2xf32>, tensor<?x?x4xf32>) {
    %g = qrealign.get_param @g : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %s = qrealign.get_param @s : tensor<4xf32>
    // expected-note @+1 {{the smoothing op}}
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %w = qrealign.get_param @w : tensor<2x4xf32>
    %t = qrealign.get_param @t : tensor<4xf32>
    %sw = qrealign.smooth_weight %w, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %tw = qrealign.smooth_weight %w, %t : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    // expected-error @+1 {{qrealign-fold-smoothing: reads a smoothed edge without the inverse on its weight}}
    %c = qrealign.add %xs, %xs : tensor<?x?x4xf32>
    %a = qrealign.linear "q_proj" %xs, %sw : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    return %a, %c : tensor<?x?x2xf32>, tensor<?x?x4xf32>
  }
}

// -----

// Scales must be positive.
module {
  qrealign.param @g : tensor<4xf32> = dense<1.0>
  // expected-error @+1 {{qrealign-fold-smoothing: smoothing scales must be positive and finite, got 0}}
  qrealign.param @s : tensor<4xf32> = dense<[1.0, 0.0, 1.0, 1.0]>
  qrealign.param @w : tensor<2x4xf32> = dense<1.0>
  func.func @f(%x: tensor<?x?x4xf32>) -> tensor<?x?x2xf32> {
    %g = qrealign.get_param @g : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %s = qrealign.get_param @s : tensor<4xf32>
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %w = qrealign.get_param @w : tensor<2x4xf32>
    %sw = qrealign.smooth_weight %w, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %y = qrealign.linear "q_proj" %xs, %sw : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    return %y : tensor<?x?x2xf32>
  }
}

// -----

// The smoothed weight is computed, not a parameter.
module {
  qrealign.param @g : tensor<4xf32> = dense<1.0>
  qrealign.param @s : tensor<4xf32> = dense<2.0>
  func.func @f(%x: tensor<?x?x4xf32>, %w: tensor<2x4xf32>) -> tensor<?x?x2xf32> {
    %g = qrealign.get_param @g : tensor<4xf32>
    %n = qrealign.rms_norm %x, %g eps = 1.0e-5 : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %s = qrealign.get_param @s : tensor<4xf32>
    // expected-note @+1 {{the smoothing op}}
    %xs = qrealign.smooth %n, %s : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    // expected-error @+1 {{qrealign-fold-smoothing: the weight must be a parameter (qrealign.get_param)}}
    %sw = qrealign.smooth_weight %w, %s : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
    %y = qrealign.linear "q_proj" %xs, %sw : (tensor<?x?x4xf32>, tensor<2x4xf32>) -> tensor<?x?x2xf32>
    return %y : tensor<?x?x2xf32>
  }
}
