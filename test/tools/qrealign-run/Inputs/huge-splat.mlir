// An inline splat parameter of 4 TiB (2^37 x 8 f32): one element in the IR,
// which the engine would have to expand.
module {
  qrealign.param @emb : tensor<137438953472x8xf32> = dense<0.5>
  func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %mask: tensor<?x?xi1>) -> tensor<?x?x8xf32> {
    %t = qrealign.get_param @emb : tensor<137438953472x8xf32>
    %h = qrealign.embedding %ids, %t : (tensor<?x?xi64>, tensor<137438953472x8xf32>) -> tensor<?x?x8xf32>
    return %h : tensor<?x?x8xf32>
  }
}
