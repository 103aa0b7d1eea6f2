#include "hist.h"

#include <string.h>

/* 64 linear sub-buckets below 64 µs, then 32 sub-buckets per power of two. */
static int index_of(uint64_t v) {
  if (v < 64) return (int)v;
  int e = 63 - __builtin_clzll(v);
  int idx = 64 + (e - 6) * 32 + (int)((v >> (e - 5)) - 32);
  return idx < HIST_BUCKETS ? idx : HIST_BUCKETS - 1;
}

static uint64_t upper_of(int idx) {
  if (idx < 64) return (uint64_t)idx;
  int e = (idx - 64) / 32 + 6;
  uint64_t sub = (uint64_t)((idx - 64) % 32) + 32;
  return ((sub + 1) << (e - 5)) - 1;
}

void hist_reset(hist_t *h) {
  memset(h, 0, sizeof(*h));
  h->min = UINT64_MAX;
}

void hist_add(hist_t *h, uint64_t value) {
  h->counts[index_of(value)]++;
  h->total++;
  h->sum += (double)value;
  if (value > h->max) h->max = value;
  if (value < h->min) h->min = value;
}

uint64_t hist_percentile(const hist_t *h, double pct) {
  if (h->total == 0) return 0;
  uint64_t rank = (uint64_t)((pct / 100.0) * (double)h->total + 0.5);
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < HIST_BUCKETS; i++) {
    seen += h->counts[i];
    if (seen >= rank) {
      uint64_t up = upper_of(i);
      return up < h->max ? up : h->max;
    }
  }
  return h->max;
}

void hist_json(const hist_t *h, FILE *out) {
  fprintf(out,
          "{\"count\":%llu,\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,"
          "\"max\":%llu,\"mean\":%.1f}",
          (unsigned long long)h->total, (unsigned long long)hist_percentile(h, 50),
          (unsigned long long)hist_percentile(h, 90), (unsigned long long)hist_percentile(h, 99),
          (unsigned long long)hist_percentile(h, 99.9), (unsigned long long)h->max,
          h->total ? h->sum / (double)h->total : 0.0);
}
