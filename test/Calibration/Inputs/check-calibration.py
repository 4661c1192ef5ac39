"""Reads the qrealign.calibration record of a calibrated module and the
learned tensors, and prints facts FileCheck can test:

  layers N: every final loss below its initial loss | loss did not fall at ...
  rolled back: L1 L2 ... | none
  tensors N, clip min..max, smooth min..max
"""
import sys

from calibration_files import layer_records, read_safetensors

layers = layer_records(sys.argv[1])
if not layers:
    sys.exit("no qrealign.calibration record in " + sys.argv[1])
rose = [str(l) for l, i, f, _ in layers if not f < i]
if rose:
    print("layers %d: loss did not fall at layer %s" %
          (len(layers), " ".join(rose)))
else:
    print("layers %d: every final loss below its initial loss" % len(layers))
print("rolled back:", " ".join(str(l) for l, _, _, r in layers if r) or "none")
t = read_safetensors(sys.argv[2])
clip = [v for k, (_, vs) in t.items() if "clip" in k for v in vs]
smooth = [v for k, (_, vs) in t.items() if "smooth" in k for v in vs]
print("tensors %d, clip %g..%g, smooth %g..%g" %
      (len(t), min(clip), max(clip), min(smooth), max(smooth)))
