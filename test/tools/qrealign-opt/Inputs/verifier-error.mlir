module {
  func.func @f(%x: tensor<?x?x8xf32>, %w: tensor<4x6xf32>) -> tensor<?x?x4xf32> {
    %y = qrealign.linear "q_proj" %x, %w : (tensor<?x?x8xf32>, tensor<4x6xf32>) -> tensor<?x?x4xf32>
    return %y : tensor<?x?x4xf32>
  }
}
