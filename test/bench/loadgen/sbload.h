/*
 * sbload: epoll WebSocket load generator for the Switchboard benchmarks.
 *
 * Counting connections parse frame headers only; probe connections parse
 * payloads for latency and per-topic order; slow connections read a few
 * bytes per tick. Commands arrive on stdin (mark, report, quit) and every
 * answer is one JSON line on stdout.
 */
#ifndef SBLOAD_H
#define SBLOAD_H

#include <stdint.h>

#include "hist.h"

#define MAX_ROOMS 4
#define ROOM_LEN 48

enum proto { PROTO_SB, PROTO_SIO };
enum kind { KIND_COUNT, KIND_PROBE, KIND_SLOW };
enum state { ST_IDLE, ST_CONNECTING, ST_HANDSHAKE, ST_SETUP, ST_SUBSCRIBED, ST_CLOSED };
enum fail {
  FAIL_CONNECT, FAIL_HANDSHAKE, FAIL_AUTH, FAIL_SUBSCRIBE, FAIL_CLOSED, FAIL_TIMEOUT, FAIL_COUNT
};

typedef struct {
  const char *host;
  int port;
  const char *path;
  enum proto proto;
  int conns;
  int probes;
  int slow;
  int slow_bytes_per_tick;
  const char *rooms[MAX_ROOMS];
  int room_count;
  int group_size;
  int sources;
  double connect_rate;
  int max_pending;
  double setup_timeout_s;
  int min_event_bytes;
  int rcvbuf_slow;
} options_t;

typedef struct {
  int32_t topic;
  int64_t last_seq;
} topic_seq_t;

typedef struct conn {
  int fd;
  int idx;
  uint8_t state;
  uint8_t kind;
  uint8_t acks;
  uint8_t hdr_len;
  uint8_t hdr_need;
  uint8_t opcode;
  uint8_t keep;
  uint8_t want_write;
  uint64_t remaining;
  char *buf;
  uint32_t buf_len;
  uint32_t buf_cap;
  char *out;
  uint32_t out_len;
  uint8_t hdr[14];
  uint64_t t_start_us;
  topic_seq_t seqs[MAX_ROOMS];
} conn_t;

typedef struct {
  uint64_t fast;
  uint64_t slow;
  uint64_t probe;
  uint64_t bytes;
  uint64_t order_errors;
  uint64_t gaps;
  uint64_t duplicates;
  uint64_t bad_payload;
  uint64_t closed_fast;
  uint64_t closed_slow;
  hist_t latency;
} counters_t;

typedef struct {
  options_t opt;
  conn_t *conns;
  int epfd;
  int started;
  int subscribed;
  int failed;
  uint64_t fails[FAIL_COUNT];
  uint64_t t_first_start_us;
  uint64_t t_last_done_us;
  hist_t connect;
  counters_t c;
  char handshake_error[96];
} loadgen_t;

extern loadgen_t G;

uint64_t now_us(void);

/* conn.c */
void conn_start(conn_t *c);
void conn_on_writable(conn_t *c);
void conn_on_readable(conn_t *c, uint8_t *scratch, int scratch_len);
void conn_fail(conn_t *c, enum fail why);
void conn_check_timeouts(uint64_t now);
void conn_read_slow(conn_t *c, uint8_t *scratch);

/* frame.c */
void frame_feed(conn_t *c, const uint8_t *data, uint64_t n);
int frame_send(conn_t *c, uint8_t opcode, const char *payload, uint32_t len);
int conn_write(conn_t *c, const char *data, uint32_t len);

/* session.c */
void session_on_text(conn_t *c, const char *p, uint32_t len);
void session_on_event(conn_t *c, const char *p, uint32_t len);
void session_on_short(conn_t *c, const char *p, uint32_t len);

#endif
