// A parameter whose value is a dense_resource blob in the file's metadata.
module {
  qrealign.param @blob : tensor<2xf32> = dense_resource<blob>
}
{-#
  dialect_resources: {
    builtin: {
      blob: "0x040000000000803F00000040"
    }
  },
  external_resources: {
    unknown_group: {
      key: "0x0400000001020304"
    }
  }
#-}
