"""Python helpers of the qrealign project (stdlib only)."""
