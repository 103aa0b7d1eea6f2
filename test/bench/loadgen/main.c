/* sbload entry: options, the event loop, and the stdin command protocol. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "sbload.h"

loadgen_t G;

static const char *FAIL_NAMES[FAIL_COUNT] = {"connect", "handshake", "auth",
                                             "subscribe", "closed", "timeout"};

uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void usage(void) {
  fprintf(stderr,
          "usage: sbload --port N [--host H] [--path P] [--proto sb|sio] [--conns N]\n"
          "  [--probes N] [--slow N] [--slow-bytes B] [--room PATTERN]... [--group-size N]\n"
          "  [--sources N] [--rate CONN_PER_S] [--max-pending N] [--setup-timeout S]\n"
          "  [--min-event-bytes N] [--rcvbuf-slow B]\n");
  exit(2);
}

static void parse_options(int argc, char **argv, options_t *o) {
  *o = (options_t){.host = "127.0.0.1", .path = "/", .proto = PROTO_SB, .conns = 1,
                   .slow_bytes_per_tick = 512, .group_size = 10, .sources = 1,
                   .max_pending = 256, .setup_timeout_s = 30, .min_event_bytes = 40,
                   .rcvbuf_slow = 4096};
  for (int i = 1; i < argc; i++) {
    const char *k = argv[i];
    if (i + 1 >= argc) usage();
    const char *v = argv[++i];
    if (!strcmp(k, "--host")) o->host = v;
    else if (!strcmp(k, "--port")) o->port = atoi(v);
    else if (!strcmp(k, "--path")) o->path = v;
    else if (!strcmp(k, "--proto")) o->proto = strcmp(v, "sio") ? PROTO_SB : PROTO_SIO;
    else if (!strcmp(k, "--conns")) o->conns = atoi(v);
    else if (!strcmp(k, "--probes")) o->probes = atoi(v);
    else if (!strcmp(k, "--slow")) o->slow = atoi(v);
    else if (!strcmp(k, "--slow-bytes")) o->slow_bytes_per_tick = atoi(v);
    else if (!strcmp(k, "--group-size")) o->group_size = atoi(v);
    else if (!strcmp(k, "--sources")) o->sources = atoi(v);
    else if (!strcmp(k, "--rate")) o->connect_rate = atof(v);
    else if (!strcmp(k, "--max-pending")) o->max_pending = atoi(v);
    else if (!strcmp(k, "--setup-timeout")) o->setup_timeout_s = atof(v);
    else if (!strcmp(k, "--min-event-bytes")) o->min_event_bytes = atoi(v);
    else if (!strcmp(k, "--rcvbuf-slow")) o->rcvbuf_slow = atoi(v);
    else if (!strcmp(k, "--room") && o->room_count < MAX_ROOMS) o->rooms[o->room_count++] = v;
    else usage();
  }
  if (o->port <= 0 || o->conns <= 0 || o->room_count == 0 || o->group_size <= 0) usage();
  if (o->slow_bytes_per_tick > 65536) o->slow_bytes_per_tick = 65536;
}

/* Probes are spread evenly; slow readers take the connections right after them. */
static void assign_kinds(void) {
  int stride_p = G.opt.probes > 0 ? G.opt.conns / G.opt.probes : 0;
  int stride_s = G.opt.slow > 0 ? G.opt.conns / G.opt.slow : 0;
  for (int i = 0; i < G.opt.conns; i++) {
    conn_t *c = &G.conns[i];
    c->idx = i;
    c->fd = -1;
    c->hdr_need = 2;
    c->kind = KIND_COUNT;
    if (stride_s && (i % stride_s) == stride_s / 2 && i / stride_s < G.opt.slow) c->kind = KIND_SLOW;
    if (stride_p && (i % stride_p) == 0 && i / stride_p < G.opt.probes) c->kind = KIND_PROBE;
  }
}

static int raise_fd_limit(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  return (int)rl.rlim_cur;
}

static void print_ready(int fd_limit) {
  double secs = (double)(G.t_last_done_us - G.t_first_start_us) / 1e6;
  printf("{\"type\":\"ready\",\"attempted\":%d,\"subscribed\":%d,\"failed\":%d,"
         "\"fd_limit\":%d,\"elapsed_s\":%.4f,\"rate\":%.1f,\"failures\":{",
         G.started, G.subscribed, G.failed, fd_limit, secs,
         secs > 0 ? G.subscribed / secs : 0.0);
  for (int i = 0; i < FAIL_COUNT; i++) {
    printf("%s\"%s\":%llu", i ? "," : "", FAIL_NAMES[i], (unsigned long long)G.fails[i]);
  }
  printf("},\"handshake_error\":\"");
  for (const char *s = G.handshake_error; *s; s++) {
    if (*s != '"' && *s != '\\' && (unsigned char)*s >= 0x20) putchar(*s);
  }
  printf("\",\"connect_us\":");
  hist_json(&G.connect, stdout);
  printf("}\n");
  fflush(stdout);
}

static void print_report(void) {
  int slow_open = 0, fast_open = 0;
  for (int i = 0; i < G.started; i++) {
    if (G.conns[i].state != ST_SUBSCRIBED) continue;
    if (G.conns[i].kind == KIND_SLOW) slow_open++;
    else fast_open++;
  }
  printf("{\"type\":\"report\",\"t_us\":%llu,\"fast\":%llu,\"probe\":%llu,\"slow\":%llu,"
         "\"bytes\":%llu,\"order_errors\":%llu,\"gaps\":%llu,\"duplicates\":%llu,"
         "\"bad_payload\":%llu,\"closed_fast\":%llu,\"closed_slow\":%llu,"
         "\"open_fast\":%d,\"open_slow\":%d,\"latency_us\":",
         (unsigned long long)now_us(), (unsigned long long)G.c.fast,
         (unsigned long long)G.c.probe, (unsigned long long)G.c.slow,
         (unsigned long long)G.c.bytes, (unsigned long long)G.c.order_errors,
         (unsigned long long)G.c.gaps, (unsigned long long)G.c.duplicates,
         (unsigned long long)G.c.bad_payload, (unsigned long long)G.c.closed_fast,
         (unsigned long long)G.c.closed_slow, fast_open, slow_open);
  hist_json(&G.c.latency, stdout);
  printf("}\n");
  fflush(stdout);
}

static void mark(void) {
  uint64_t closed_fast = G.c.closed_fast, closed_slow = G.c.closed_slow;
  memset(&G.c, 0, sizeof G.c);
  hist_reset(&G.c.latency);
  G.c.closed_fast = closed_fast;
  G.c.closed_slow = closed_slow;
  printf("{\"type\":\"mark\",\"t_us\":%llu}\n", (unsigned long long)now_us());
  fflush(stdout);
}

/* Returns 0 when asked to quit. */
static int on_stdin(void) {
  static char line[256];
  static size_t used;
  ssize_t r = read(0, line + used, sizeof line - 1 - used);
  if (r <= 0) return 0;
  used += (size_t)r;
  char *nl;
  while ((nl = memchr(line, '\n', used))) {
    *nl = 0;
    if (!strcmp(line, "mark")) mark();
    else if (!strcmp(line, "report")) print_report();
    else if (!strcmp(line, "quit")) return 0;
    size_t consumed = (size_t)(nl + 1 - line);
    memmove(line, nl + 1, used - consumed);
    used -= consumed;
  }
  if (used == sizeof line - 1) used = 0;
  return 1;
}

static void start_due(uint64_t now) {
  int pending = G.started - G.subscribed - G.failed;
  int due = G.opt.conns;
  if (G.opt.connect_rate > 0) {
    due = 1 + (int)((double)(now - G.t_first_start_us) / 1e6 * G.opt.connect_rate);
    if (G.t_first_start_us == 0) due = 1;
  }
  while (G.started < G.opt.conns && G.started < due && pending < G.opt.max_pending) {
    conn_start(&G.conns[G.started]);
    pending++;
  }
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  parse_options(argc, argv, &G.opt);
  int fd_limit = raise_fd_limit();
  G.conns = calloc((size_t)G.opt.conns, sizeof(conn_t));
  assign_kinds();
  hist_reset(&G.connect);
  hist_reset(&G.c.latency);
  srand((unsigned)now_us());

  G.epfd = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event in = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(G.epfd, EPOLL_CTL_ADD, 0, &in);

  static uint8_t scratch[1 << 18];
  struct epoll_event events[1024];
  int ready_sent = 0;
  uint64_t last_tick = now_us();
  uint64_t last_timeout_check = last_tick;
  for (;;) {
    uint64_t now = now_us();
    if (G.started < G.opt.conns) start_due(now);
    int setup_done = G.started == G.opt.conns && G.subscribed + G.failed == G.opt.conns;
    if (!ready_sent && now - last_timeout_check >= 100000) {
      conn_check_timeouts(now);
      last_timeout_check = now;
    }
    if (!ready_sent && setup_done) {
      print_ready(fd_limit);
      ready_sent = 1;
    }
    if (now - last_tick >= 50000) {
      for (int i = 0; G.opt.slow > 0 && i < G.started; i++) conn_read_slow(&G.conns[i], scratch);
      last_tick = now;
    }

    int n = epoll_wait(G.epfd, events, 1024, G.started < G.opt.conns ? 1 : 10);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; i++) {
      conn_t *c = events[i].data.ptr;
      if (!c) {
        if (!on_stdin()) return 0;
        continue;
      }
      if (c->state == ST_CLOSED) continue;
      if (events[i].events & EPOLLOUT) conn_on_writable(c);
      if (c->state == ST_CLOSED) continue;
      if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        if (c->kind == KIND_SLOW && c->state == ST_SUBSCRIBED) conn_read_slow(c, scratch);
        else conn_on_readable(c, scratch, sizeof scratch);
      }
    }
  }
  return 1;
}
