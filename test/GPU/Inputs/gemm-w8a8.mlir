// The W8A8 GEMM that test/GPU/gemm-w8a8-gpu.cpp runs: the kernel of
// test/Conversion/Pipelines/qrealign-lower-to-nvvm.mlir with a C interface.
#a = affine_map<(m, n, k) -> (m, k)>
#w = affine_map<(m, n, k) -> (n, k)>
#c = affine_map<(m, n, k) -> (m, n)>
func.func @gemm(%a: tensor<128x256xi8>, %w: tensor<128x256xi8>, %c: tensor<128x128xi32> {bufferization.writable = true}) -> tensor<128x128xi32> attributes {llvm.emit_c_interface} {
  %zero = arith.constant 0 : i32
  %init = linalg.fill ins(%zero : i32) outs(%c : tensor<128x128xi32>) -> tensor<128x128xi32>
  %r = linalg.generic {indexing_maps = [#a, #w, #c], iterator_types = ["parallel", "parallel", "reduction"]} ins(%a, %w : tensor<128x256xi8>, tensor<128x256xi8>) outs(%init : tensor<128x128xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<128x128xi32>
  return %r : tensor<128x128xi32>
}
