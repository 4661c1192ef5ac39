// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%ids: tensor<?x?xi64>, %t: tensor<32xf32>) {
  // expected-error @+1 {{'qrealign.embedding' op table must be 2-D [vocab, hidden], got [32]}}
  %0 = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<32xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x?xi64>, %t: tensor<32x8xf32>) {
  // expected-error @+1 {{'qrealign.embedding' op result shape [?, ?, 4] does not match ids shape + hidden size [?, ?, 8]}}
  %0 = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<32x8xf32>) -> tensor<?x?x4xf32>
  return
}

// -----

func.func @f(%ids: tensor<2x3xi64>, %t: tensor<32x8xf32>) {
  // expected-error @+1 {{'qrealign.embedding' op result shape [3, 3, 8] does not match ids shape + hidden size [2, 3, 8]}}
  %0 = qrealign.embedding %ids, %t : (tensor<2x3xi64>, tensor<32x8xf32>) -> tensor<3x3x8xf32>
  return
}

// -----

func.func @f(%ids: tensor<?x?xf32>, %t: tensor<32x8xf32>) {
  // expected-error @+1 {{'qrealign.embedding' op operand #0 must be ranked tensor of signless integer values}}
  %0 = qrealign.embedding %ids, %t : (tensor<?x?xf32>, tensor<32x8xf32>) -> tensor<?x?x8xf32>
  return
}
