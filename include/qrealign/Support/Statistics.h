//===- Statistics.h - Order statistics of measurements ----------*- C++ -*-===//
//
// Part of the qrealign project.
//
// Medians and percentiles of what the tools measure (probe logits, timed
// runs), computed one way everywhere.
//
//===----------------------------------------------------------------------===//

#ifndef QREALIGN_SUPPORT_STATISTICS_H
#define QREALIGN_SUPPORT_STATISTICS_H

#include <vector>

namespace qrealign {
/// The q-quantile (0 <= q <= 1) of `values`, interpolating linearly between
/// order statistics as numpy.quantile does (q = 0.5: the median, the mean
/// of the middle two for an even count); NaN when empty.
double quantile(std::vector<double> values, double q);
} // namespace qrealign

#endif // QREALIGN_SUPPORT_STATISTICS_H
