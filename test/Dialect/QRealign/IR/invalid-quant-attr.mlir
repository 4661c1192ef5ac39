// RUN: qrealign-opt %s --split-input-file --verify-diagnostics

// expected-error @+1 {{w_bits must be one of 2, 3, 4, 8 or 16, got 5}}
#q = #qrealign.quant<w_bits = 5>

// -----

// expected-error @+1 {{a_bits must be one of 4, 8 or 16, got 2}}
#q = #qrealign.quant<w_bits = 4, a_bits = 2>

// -----

// expected-error @+1 {{per_group granularity needs a group_size}}
#q = #qrealign.quant<w_bits = 4, granularity = per_group>

// -----

// expected-error @+1 {{group_size is only valid with per_group granularity, got granularity = per_channel}}
#q = #qrealign.quant<w_bits = 4, group_size = 128>

// -----

// expected-error @+1 {{group_size must be a power of two >= 8, got 100}}
#q = #qrealign.quant<w_bits = 4, granularity = per_group, group_size = 100>

// -----

// expected-error @+1 {{act = static needs quantized activations (a_bits < 16)}}
#q = #qrealign.quant<w_bits = 8, act = static>

// -----

// expected-error @+1 {{w_bits = 16 leaves weights unquantized; granularity, group_size and symmetric must keep their defaults}}
#q = #qrealign.quant<w_bits = 16, a_bits = 8, symmetric = true>

// -----

// expected-error @+2 {{expected ::mlir::qrealign::Granularity to be one of: per_tensor, per_channel, per_group}}
// expected-error @+1 {{failed to parse QRealign_QuantSchemeAttr parameter 'granularity'}}
#q = #qrealign.quant<w_bits = 4, granularity = per_row>

// -----

// expected-error @+1 {{struct is missing required parameter: w_bits}}
#q = #qrealign.quant<a_bits = 8>

// -----

// Activations kept in floating point have no zero point to drop.
// expected-error @+1 {{act_symmetric applies to dynamic activation quantization only (a_bits < 16, act = dynamic)}}
#q = #qrealign.quant<w_bits = 8, act_symmetric = true>

// -----

// expected-error @+1 {{act_symmetric applies to dynamic activation quantization only (a_bits < 16, act = dynamic)}}
#q = #qrealign.quant<w_bits = 8, a_bits = 8, act = static, act_symmetric = true>
