// Two decoder layers of hidden size 4 (bodies reduced to the residual
// stream), for qrealign-attach-probes.
module {
  qrealign.param @w : tensor<4x4xf32> = dense<0.5>
  func.func @f(%h: tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    %0 = qrealign.layer 0 (%h) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    ^bb0(%x: tensor<?x?x4xf32>):
      qrealign.yield %x : tensor<?x?x4xf32>
    }
    %1 = qrealign.layer 1 (%0) : (tensor<?x?x4xf32>) -> tensor<?x?x4xf32> {
    ^bb0(%x: tensor<?x?x4xf32>):
      qrealign.yield %x : tensor<?x?x4xf32>
    }
    return %1 : tensor<?x?x4xf32>
  }
}
