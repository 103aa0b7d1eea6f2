/* Log-linear latency histogram (HDR-like, ~1.6 % precision) in microseconds. */
#ifndef SBLOAD_HIST_H
#define SBLOAD_HIST_H

#include <stdint.h>
#include <stdio.h>

#define HIST_BUCKETS 1408

typedef struct {
  uint64_t counts[HIST_BUCKETS];
  uint64_t total;
  uint64_t max;
  uint64_t min;
  double sum;
} hist_t;

void hist_reset(hist_t *h);
void hist_add(hist_t *h, uint64_t value);
uint64_t hist_percentile(const hist_t *h, double pct);
/* Writes {"count":..,"p50":..,"p99":..,"p999":..,"max":..,"mean":..} to out. */
void hist_json(const hist_t *h, FILE *out);

#endif
