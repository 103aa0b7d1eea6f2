/*
 * sbhttp: the open-loop HTTP publisher for the ingress and latency scenarios.
 *
 * Node's event loop kept the intended send times to about 2 ms at p99 even on an idle
 * machine, as much as the whole ingress target, so the HTTP publishing is done here: a
 * timerfd wakes the loop at each intended send time (or at most every MIN_GAP_US, sending
 * what is due together), requests go out on keep-alive connections with at most one in
 * flight each, and a request that finds every connection busy waits in a queue. Latency
 * runs from the intended time, so a late client or a full pool counts against the run.
 *
 * Jobs come one per line on stdin, answers one JSON line each on stdout:
 *   JOB host port path api_key rate duration_s conns pad_bytes room_count (room seq_start)...
 * The answer has the PublishResult shape of test/bench/lib/publish-job.ts.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"

#define MAX_ROOMS 64
#define MAX_CONNS 512
#define MIN_GAP_US 250
#define DRAIN_TIMEOUT_US 10000000ull
#define REQ_BYTES 4096
#define RESP_BYTES 8192

typedef struct {
  int fd;
  uint64_t intended_us; /* of the request in flight, 0 when idle */
  uint64_t sent_us;
  int room;
  char resp[RESP_BYTES];
  size_t resp_len;
} conn_t;

typedef struct {
  char host[256], path[512], key[512];
  int port, conns, pad, room_count;
  double rate, duration_s;
  char *rooms[MAX_ROOMS];
  uint64_t seq_start[MAX_ROOMS];
} job_t;

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int ep;
static conn_t conns[MAX_CONNS];
static uint64_t per_room[MAX_ROOMS];
static hist_t lag, response, service;
static uint64_t errors, answered;
static char first_error[256];
static char *pad_text;

/* Requests that found every connection busy: intended time and room, first in first out. */
static uint64_t *queue_t;
static int *queue_room;
static size_t queue_head, queue_tail;

static void fail(const char *what) {
  errors++;
  if (!first_error[0]) snprintf(first_error, sizeof first_error, "%s", what);
}

static int open_conn(const job_t *j, conn_t *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  if (c->fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)j->port)};
  if (inet_pton(AF_INET, j->host, &a.sin_addr) != 1 ||
      connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
    close(c->fd);
    c->fd = -1;
    return -1;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
  c->intended_us = 0;
  c->resp_len = 0;
  return 0;
}

static void close_conn(conn_t *c) {
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  if (c->intended_us) fail("connection closed with a request in flight");
  c->intended_us = 0;
  c->resp_len = 0;
}

/* Writes one publish request; the socket buffer always has room for a request this small. */
static void send_request(const job_t *j, conn_t *c, uint64_t intended, int room) {
  if (c->fd < 0 && open_conn(j, c) < 0) {
    fail("cannot connect");
    return;
  }
  uint64_t seq = j->seq_start[room] + ++per_room[room];
  char body[REQ_BYTES], req[REQ_BYTES * 2];
  int blen = snprintf(body, sizeof body,
                      "{\"channel\":\"chat.messages\",\"event\":\"bench\",\"room_id\":\"%s\","
                      "\"data\":{\"bk\":%d,\"bs\":%llu,\"bt\":%llu,\"pad\":\"%s\"}}",
                      j->rooms[room], room, (unsigned long long)seq,
                      (unsigned long long)intended, pad_text);
  int rlen = snprintf(req, sizeof req,
                      "POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                      "Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s",
                      j->path, j->host, j->port, j->key, blen, body);
  c->intended_us = intended;
  c->sent_us = now_us();
  c->room = room;
  if (write(c->fd, req, (size_t)rlen) != rlen) close_conn(c);
}

static conn_t *idle_conn(const job_t *j) {
  for (int i = 0; i < j->conns; i++)
    if (!conns[i].intended_us) return &conns[i];
  return NULL;
}

static void dispatch(const job_t *j, uint64_t intended, int room) {
  conn_t *c = idle_conn(j);
  if (c) return send_request(j, c, intended, room);
  queue_t[queue_tail] = intended;
  queue_room[queue_tail++] = room;
}

/* Parses complete responses in c->resp; returns -1 when the connection is unusable. */
static int take_responses(const job_t *j, conn_t *c) {
  for (;;) {
    c->resp[c->resp_len < RESP_BYTES ? c->resp_len : RESP_BYTES - 1] = 0;
    char *end = strstr(c->resp, "\r\n\r\n");
    if (!end) return c->resp_len < RESP_BYTES - 1 ? 0 : -1;
    int status = 0;
    if (sscanf(c->resp, "HTTP/1.%*d %d", &status) != 1) return -1;
    char *cl = strcasestr(c->resp, "\r\ncontent-length:");
    size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    size_t total = (size_t)(end + 4 - c->resp) + body;
    if (c->resp_len < total) return total < RESP_BYTES ? 0 : -1;
    if (!c->intended_us) return -1; /* an answer nobody asked for */
    if (status == 202) {
      uint64_t now = now_us();
      hist_add(&response, now - c->intended_us);
      hist_add(&service, now - c->sent_us);
    } else {
      char what[128];
      snprintf(what, sizeof what, "HTTP %d for room %s", status, j->rooms[c->room]);
      fail(what);
    }
    answered++;
    c->intended_us = 0;
    memmove(c->resp, c->resp + total, c->resp_len - total);
    c->resp_len -= total;
    if (queue_head < queue_tail) {
      send_request(j, c, queue_t[queue_head], queue_room[queue_head]);
      queue_head++;
    }
  }
}

static void on_readable(const job_t *j, conn_t *c) {
  ssize_t n = read(c->fd, c->resp + c->resp_len, RESP_BYTES - 1 - c->resp_len);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    return close_conn(c);
  }
  c->resp_len += (size_t)n;
  if (take_responses(j, c) < 0) {
    fail("unreadable HTTP response");
    close_conn(c);
  }
}

static void arm(int tfd, uint64_t at_us) {
  struct itimerspec its = {.it_value = {.tv_sec = (time_t)(at_us / 1000000u),
                                        .tv_nsec = (long)(at_us % 1000000u) * 1000}};
  timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void print_percentiles(const char *name, const hist_t *h) {
  printf("\"%s\":{\"p50\":%llu,\"p99\":%llu,\"p999\":%llu,\"max\":%llu}", name,
         (unsigned long long)hist_percentile(h, 50), (unsigned long long)hist_percentile(h, 99),
         (unsigned long long)hist_percentile(h, 99.9), (unsigned long long)h->max);
}

static void run(job_t *j) {
  uint64_t total = (uint64_t)(j->rate * j->duration_s + 0.5);
  if (total < 1) total = 1;
  double interval = 1e6 / j->rate;
  hist_reset(&lag);
  hist_reset(&response);
  hist_reset(&service);
  errors = answered = 0;
  first_error[0] = 0;
  memset(per_room, 0, sizeof per_room);
  queue_t = calloc(total, sizeof *queue_t);
  queue_room = calloc(total, sizeof *queue_room);
  queue_head = queue_tail = 0;
  pad_text = malloc((size_t)j->pad + 1);
  memset(pad_text, 'x', (size_t)j->pad);
  pad_text[j->pad] = 0;
  for (int i = 0; i < j->conns; i++)
    if (open_conn(j, &conns[i]) < 0) fail("cannot connect");

  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
  struct epoll_event tev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
  uint64_t t0 = now_us() + 5000, sent = 0, finished = 0;
  arm(tfd, t0);
  while (answered + errors < total) {
    struct epoll_event evs[64];
    int timeout_ms = sent < total ? -1 : 100;
    int n = epoll_wait(ep, evs, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr) {
        on_readable(j, evs[i].data.ptr);
        continue;
      }
      uint64_t expirations;
      if (read(tfd, &expirations, sizeof expirations) < 0) continue;
      uint64_t now = now_us();
      while (sent < total && t0 + (uint64_t)(sent * interval) <= now) {
        uint64_t intended = t0 + (uint64_t)(sent * interval);
        hist_add(&lag, now > intended ? now - intended : 1);
        dispatch(j, intended, (int)(sent % (uint64_t)j->room_count));
        sent++;
      }
      if (sent < total) {
        uint64_t next = t0 + (uint64_t)(sent * interval);
        arm(tfd, next > now + MIN_GAP_US ? next : now + MIN_GAP_US);
      } else {
        finished = now_us();
      }
    }
    if (sent == total && now_us() - finished > DRAIN_TIMEOUT_US) {
      fail("responses still missing after 10 s");
      break;
    }
  }
  epoll_ctl(ep, EPOLL_CTL_DEL, tfd, NULL);
  close(tfd);
  /* Like the Node client, a job's connections end with it; the next job opens its own. */
  for (int i = 0; i < j->conns; i++) {
    conns[i].intended_us = 0;
    close_conn(&conns[i]);
  }

  double duration_s = (double)(finished - t0) / 1e6;
  printf("{\"sent\":%llu,\"perRoom\":[", (unsigned long long)sent);
  for (int r = 0; r < j->room_count; r++)
    printf("%s%llu", r ? "," : "", (unsigned long long)per_room[r]);
  printf("],\"errors\":%llu,", (unsigned long long)errors);
  if (first_error[0]) printf("\"firstError\":\"%s\",", first_error);
  printf("\"durationS\":%.6f,\"achievedRate\":%.1f,", duration_s,
         duration_s > 0 ? (double)sent / duration_s : 0.0);
  print_percentiles("lag", &lag);
  printf(",");
  print_percentiles("response", &response);
  printf(",");
  print_percentiles("service", &service);
  printf("}\n");
  fflush(stdout);
  free(queue_t);
  free(queue_room);
  free(pad_text);
}

static int parse_job(char *line, job_t *j) {
  char *save = NULL, *tok[8 + 2 * MAX_ROOMS + 2];
  int n = 0;
  for (char *t = strtok_r(line, " \n", &save); t && n < (int)(sizeof tok / sizeof *tok);
       t = strtok_r(NULL, " \n", &save))
    tok[n++] = t;
  if (n < 11 || strcmp(tok[0], "JOB")) return -1;
  snprintf(j->host, sizeof j->host, "%s", tok[1]);
  j->port = atoi(tok[2]);
  snprintf(j->path, sizeof j->path, "%s", tok[3]);
  snprintf(j->key, sizeof j->key, "%s", tok[4]);
  j->rate = atof(tok[5]);
  j->duration_s = atof(tok[6]);
  j->conns = atoi(tok[7]);
  j->pad = atoi(tok[8]);
  j->room_count = atoi(tok[9]);
  if (j->rate <= 0 || j->conns < 1 || j->conns > MAX_CONNS || j->pad < 0 || j->pad > 2048 ||
      j->room_count < 1 || j->room_count > MAX_ROOMS || n != 10 + 2 * j->room_count)
    return -1;
  for (int r = 0; r < j->room_count; r++) {
    j->rooms[r] = strdup(tok[10 + 2 * r]);
    j->seq_start[r] = strtoull(tok[11 + 2 * r], NULL, 10);
  }
  return 0;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); /* a write to a closed connection fails with EPIPE instead */
  /*
   * A real-time priority, where allowed, so that the processes sharing the load core (NATS,
   * the WebSocket generator) cannot delay a send: the client's own lateness is reported, but
   * it should be the machine's wake-up latency, not a queue behind them.
   */
  struct sched_param sp = {.sched_priority = 10};
  int realtime = sched_setscheduler(0, SCHED_FIFO, &sp) == 0;
  ep = epoll_create1(0);
  for (int i = 0; i < MAX_CONNS; i++) conns[i].fd = -1;
  printf("{\"ready\":true,\"realtime\":%s}\n", realtime ? "true" : "false");
  fflush(stdout);
  char line[8192];
  while (fgets(line, sizeof line, stdin)) {
    job_t j = {0};
    if (parse_job(line, &j) < 0) {
      printf("{\"error\":\"bad job line\"}\n");
      fflush(stdout);
      continue;
    }
    run(&j);
    for (int r = 0; r < j.room_count; r++) free(j.rooms[r]);
  }
  return 0;
}
