// The table goes to the file, atomically, and nothing goes to stderr.
// RUN: rm -rf %t && mkdir -p %t
// RUN: qrealign-opt %S/Inputs/two-layers.mlir --qrealign-assign-quant="w-bits=8 a-bits=8" --qrealign-quant-report="file=%t/report.md" -o %t/out.mlir 2> %t/stderr.txt
// RUN: FileCheck %s < %t/report.md
// RUN: count 0 < %t/stderr.txt
// RUN: ls %t | FileCheck %s --check-prefix=FILES
// An unwritable report path is an error at the module, and fails the run.
// RUN: qrealign-opt %s --qrealign-quant-report="file=%t/no/such/dir/report.md" --verify-diagnostics

// CHECK: | 0 | q_proj | 64x64 | W8A8 per-channel asym dyn-act | 8.375 | 8.0 KiB | 4.2 KiB |
// CHECK: | total | 15 linears | 79872 weights |

// FILES-NOT: tmp
// FILES: out.mlir
// FILES-NEXT: report.md
// FILES-NEXT: stderr.txt
// FILES-NOT: tmp

// expected-error @+1 {{qrealign-quant-report: cannot write}}
module {
}
