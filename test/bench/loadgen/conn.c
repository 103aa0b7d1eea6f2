/* Connection lifecycle: non-blocking connect, HTTP upgrade, reads, failure accounting. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sbload.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

void conn_fail(conn_t *c, enum fail why) {
  if (c->state == ST_CLOSED) return;
  if (c->state == ST_SUBSCRIBED) {
    if (c->kind == KIND_SLOW) G.c.closed_slow++;
    else G.c.closed_fast++;
  } else {
    G.failed++;
    G.fails[why]++;
  }
  c->state = ST_CLOSED;
  if (c->fd >= 0) {
    epoll_ctl(G.epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
}

/* More than ~28k connections to one port need more than one source address. */
static int bind_source(int fd, int idx) {
  if (G.opt.sources <= 1) return 0;
  int one = 1;
  setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = 0};
  src.sin_addr.s_addr = htonl(0x7f000002u + (uint32_t)(idx % G.opt.sources));
  return bind(fd, (struct sockaddr *)&src, sizeof src);
}

void conn_start(conn_t *c) {
  c->t_start_us = now_us();
  if (G.t_first_start_us == 0) G.t_first_start_us = c->t_start_us;
  G.started++;
  for (int i = 0; i < MAX_ROOMS; i++) c->seqs[i].topic = -1;

  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    c->state = ST_CONNECTING;
    conn_fail(c, FAIL_CONNECT);
    return;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (c->kind == KIND_SLOW && G.opt.rcvbuf_slow > 0) {
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &G.opt.rcvbuf_slow, sizeof G.opt.rcvbuf_slow);
  }
  c->state = ST_CONNECTING;
  if (bind_source(c->fd, c->idx) < 0) {
    conn_fail(c, FAIL_CONNECT);
    return;
  }

  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)G.opt.port)};
  inet_pton(AF_INET, G.opt.host, &dst.sin_addr);
  if (connect(c->fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
    conn_fail(c, FAIL_CONNECT);
    return;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(G.epfd, EPOLL_CTL_ADD, c->fd, &ev);
  c->want_write = 1;
}

static void send_upgrade(conn_t *c) {
  char req[1024];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n",
                   G.opt.path, G.opt.host, G.opt.port);
  c->state = ST_HANDSHAKE;
  if (conn_write(c, req, (uint32_t)n) < 0) conn_fail(c, FAIL_HANDSHAKE);
}

void conn_on_writable(conn_t *c) {
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
      conn_fail(c, FAIL_CONNECT);
      return;
    }
    c->want_write = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(G.epfd, EPOLL_CTL_MOD, c->fd, &ev);
    send_upgrade(c);
    return;
  }
  if (c->out_len > 0) {
    ssize_t w = write(c->fd, c->out, c->out_len);
    if (w < 0 && errno != EAGAIN) {
      conn_fail(c, FAIL_CLOSED);
      return;
    }
    if (w > 0) {
      memmove(c->out, c->out + w, c->out_len - (uint32_t)w);
      c->out_len -= (uint32_t)w;
    }
  }
  if (c->out_len == 0 && c->want_write) {
    uint32_t events = (c->kind == KIND_SLOW && c->state == ST_SUBSCRIBED) ? 0 : EPOLLIN;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(G.epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = 0;
  }
}

/* Collects the 101 response; whatever follows it is already WebSocket frames. */
static void on_handshake_bytes(conn_t *c, const uint8_t *data, uint64_t n) {
  uint32_t before = c->buf_len;
  if (c->buf_len + n > 8192) {
    conn_fail(c, FAIL_HANDSHAKE);
    return;
  }
  if (c->buf_cap < c->buf_len + n) {
    c->buf_cap = 8192;
    c->buf = realloc(c->buf, c->buf_cap);
  }
  memcpy(c->buf + c->buf_len, data, n);
  c->buf_len += (uint32_t)n;
  char *end = memmem(c->buf, c->buf_len, "\r\n\r\n", 4);
  if (!end) return;
  if (c->buf_len < 12 || memcmp(c->buf + 9, "101", 3) != 0) {
    if (!G.handshake_error[0]) {
      size_t n = strcspn(c->buf, "\r\n");
      if (n >= sizeof G.handshake_error) n = sizeof G.handshake_error - 1;
      memcpy(G.handshake_error, c->buf, n);
    }
    conn_fail(c, FAIL_HANDSHAKE);
    return;
  }
  uint32_t head = (uint32_t)(end + 4 - c->buf);
  uint32_t rest_off = head - before;
  c->state = ST_SETUP;
  c->buf_len = 0;
  c->hdr_need = 2;
  if (rest_off < n) frame_feed(c, data + rest_off, n - rest_off);
}

static void on_bytes(conn_t *c, const uint8_t *data, uint64_t n) {
  if (c->state == ST_HANDSHAKE) on_handshake_bytes(c, data, n);
  else frame_feed(c, data, n);
}

void conn_on_readable(conn_t *c, uint8_t *scratch, int scratch_len) {
  ssize_t r = read(c->fd, scratch, (size_t)scratch_len);
  if (r > 0) {
    on_bytes(c, scratch, (uint64_t)r);
    return;
  }
  if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
    conn_fail(c, c->state == ST_HANDSHAKE ? FAIL_HANDSHAKE : FAIL_CLOSED);
  }
}

/* Slow readers are out of the epoll read set; they drain a fixed budget per tick. */
void conn_read_slow(conn_t *c, uint8_t *scratch) {
  if (c->state != ST_SUBSCRIBED || c->kind != KIND_SLOW) return;
  ssize_t r = read(c->fd, scratch, (size_t)G.opt.slow_bytes_per_tick);
  if (r > 0) on_bytes(c, scratch, (uint64_t)r);
  else if (r == 0 || (errno != EAGAIN && errno != EINTR)) conn_fail(c, FAIL_CLOSED);
}

void conn_check_timeouts(uint64_t now) {
  uint64_t limit = (uint64_t)(G.opt.setup_timeout_s * 1e6);
  for (int i = 0; i < G.started; i++) {
    conn_t *c = &G.conns[i];
    if (c->state == ST_SUBSCRIBED || c->state == ST_CLOSED || c->t_start_us > now) continue;
    if (now - c->t_start_us > limit) {
      conn_fail(c, FAIL_TIMEOUT);
    }
  }
}
