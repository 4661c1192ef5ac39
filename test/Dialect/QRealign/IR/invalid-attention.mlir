// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x12xf32>, %v: tensor<?x?x12xf32>) {
  // expected-error @+1 {{'qrealign.attention' op num_kv_heads (3) must divide num_heads (8)}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 3 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x?x12xf32>, tensor<?x?x12xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x8xf32>) {
  // The query width must be heads * head_dim: heads divide the hidden size.
  // expected-error @+1 {{'qrealign.attention' op query has 32 features but num_heads * head_dim = 24}}
  %0 = qrealign.attention %q, %k, %v heads = 6 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x24xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x16xf32>, %v: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op key has 16 features but num_kv_heads * head_dim = 8}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x?x16xf32>, tensor<?x?x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x16xf32>) {
  // expected-error @+1 {{'qrealign.attention' op value has 16 features but num_kv_heads * head_dim = 8}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x16xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x32xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op query must be 3-D [batch, seq, features], got [?, 32]}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<2x?x32xf32>, %k: tensor<3x?x8xf32>, %v: tensor<3x?x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op query, key and value must have the same batch size}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<2x?x32xf32>, tensor<3x?x8xf32>, tensor<3x?x8xf32>) -> tensor<2x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x5x8xf32>, %v: tensor<?x6x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op key and value must have the same batch and sequence sizes}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x5x8xf32>, tensor<?x6x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x5x8xf32>, %v: tensor<?x5x8xf32>, %m: tensor<?x4xi1>) {
  // expected-error @+1 {{'qrealign.attention' op mask shape [?, 4] must be [batch, key seq] [?, 5]}}
  %0 = qrealign.attention %q, %k, %v mask %m heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x5x8xf32>, tensor<?x5x8xf32>, tensor<?x4xi1>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op scale must be positive and finite}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.0 causal : (tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x8xf16>, %v: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op query, key, value and result must have the same element type}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x?x8xf16>, tensor<?x?x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

func.func @f(%q: tensor<2x3x32xf32>, %k: tensor<2x3x8xf32>, %v: tensor<2x3x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op result shape [2, 4, 32] must be [2, 3, 32]}}
  %0 = qrealign.attention %q, %k, %v heads = 8 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<2x3x32xf32>, tensor<2x3x8xf32>, tensor<2x3x8xf32>) -> tensor<2x4x32xf32>
  return
}

// -----

func.func @f(%q: tensor<?x?x32xf32>, %k: tensor<?x?x8xf32>, %v: tensor<?x?x8xf32>) {
  // expected-error @+1 {{'qrealign.attention' op num_heads, num_kv_heads and head_dim must be positive}}
  %0 = qrealign.attention %q, %k, %v heads = 0 kv_heads = 2 head_dim = 4 scale = 0.5 causal : (tensor<?x?x32xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x32xf32>
  return
}

// -----

// heads * head_dim = 2^64 wraps to 0 in int64 arithmetic: with unchecked
// products this 0-feature attention verified.
func.func @f(%q: tensor<?x?x0xf32>, %k: tensor<?x?x0xf32>, %v: tensor<?x?x0xf32>) {
  // expected-error @+1 {{'qrealign.attention' op num_heads * head_dim (4294967296 * 4294967296) overflows 64 bits}}
  %0 = qrealign.attention %q, %k, %v heads = 4294967296 kv_heads = 4294967296 head_dim = 4294967296 scale = 0.5 causal : (tensor<?x?x0xf32>, tensor<?x?x0xf32>, tensor<?x?x0xf32>) -> tensor<?x?x0xf32>
  return
}
