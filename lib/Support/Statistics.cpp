//===- Statistics.cpp - Order statistics of measurements ------------------===//
//
// Part of the qrealign project.
//
//===----------------------------------------------------------------------===//

#include "qrealign/Support/Statistics.h"

#include <algorithm>
#include <cmath>

double qrealign::quantile(std::vector<double> values, double q) {
  if (values.empty())
    return NAN;
  std::sort(values.begin(), values.end());
  double pos = q * double(values.size() - 1);
  size_t lo = size_t(std::floor(pos));
  size_t hi = std::min(lo + 1, values.size() - 1);
  double frac = pos - double(lo);
  return values[lo] + (values[hi] - values[lo]) * frac;
}
