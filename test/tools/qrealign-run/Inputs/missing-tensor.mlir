// An external parameter the checkpoint lacks.
module attributes {qrealign.params = {model = "unused"}} {
  qrealign.param @w : tensor<4x4xf32> = #qrealign.external<"model"::"model.nope">
  func.func @forward(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>, %m: tensor<?x?xi1>) -> tensor<?x?x4xf32> {
    %0 = qrealign.get_param @w : tensor<4x4xf32>
    %1 = qrealign.embedding %ids, %0 : (tensor<?x?xi64>, tensor<4x4xf32>) -> tensor<?x?x4xf32>
    return %1 : tensor<?x?x4xf32>
  }
}
