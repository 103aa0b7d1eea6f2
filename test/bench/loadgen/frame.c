/* RFC 6455 framing: a streaming header parser and masked client frames. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "sbload.h"

static void buf_append(conn_t *c, const uint8_t *p, uint32_t n) {
  if (c->buf_len + n > c->buf_cap) {
    uint32_t cap = c->buf_cap ? c->buf_cap : 256;
    while (cap < c->buf_len + n) cap *= 2;
    c->buf = realloc(c->buf, cap);
    c->buf_cap = cap;
  }
  memcpy(c->buf + c->buf_len, p, n);
  c->buf_len += n;
}

/* Header length once its first two bytes are known. */
static uint8_t header_size(const uint8_t *h) {
  uint8_t len7 = h[1] & 0x7f;
  uint8_t size = 2 + ((h[1] & 0x80) ? 4 : 0);
  if (len7 == 126) size += 2;
  if (len7 == 127) size += 8;
  return size;
}

static uint64_t payload_size(const uint8_t *h) {
  uint8_t len7 = h[1] & 0x7f;
  if (len7 < 126) return len7;
  if (len7 == 126) return ((uint64_t)h[2] << 8) | h[3];
  uint64_t v = 0;
  for (int i = 2; i < 10; i++) v = (v << 8) | h[i];
  return v;
}

static void frame_done(conn_t *c) {
  const char *p = c->buf;
  uint32_t n = c->buf_len;
  switch (c->opcode) {
    case 0x8:
      if (c->state != ST_CLOSED) conn_fail(c, FAIL_CLOSED);
      break;
    case 0x9:
      frame_send(c, 0xA, p, n);
      break;
    case 0x1:
      if (c->state == ST_SETUP) session_on_text(c, p, n);
      else if (n < (uint32_t)G.opt.min_event_bytes) session_on_short(c, p, n);
      else session_on_event(c, p, n);
      break;
    default:
      break;
  }
  c->buf_len = 0;
}

/* A delivery is counted as soon as its header is read, whatever follows. */
static void header_done(conn_t *c) {
  c->opcode = c->hdr[0] & 0x0f;
  c->remaining = payload_size(c->hdr);
  int is_event = c->opcode == 0x1 && c->remaining >= (uint64_t)G.opt.min_event_bytes;

  if (c->state == ST_SUBSCRIBED && is_event) {
    if (c->kind == KIND_SLOW) G.c.slow++;
    else if (c->kind == KIND_PROBE) G.c.probe++;
    else G.c.fast++;
  }
  c->keep = !is_event || c->state != ST_SUBSCRIBED || c->kind == KIND_PROBE;
  c->hdr_len = 0;
  c->hdr_need = 2;
  c->buf_len = 0;
  if (c->remaining == 0) frame_done(c);
}

void frame_feed(conn_t *c, const uint8_t *data, uint64_t n) {
  G.c.bytes += n;
  while (n > 0 && c->state != ST_CLOSED) {
    if (c->remaining > 0) {
      uint64_t take = c->remaining < n ? c->remaining : n;
      if (c->keep) buf_append(c, data, (uint32_t)take);
      c->remaining -= take;
      data += take;
      n -= take;
      if (c->remaining == 0) frame_done(c);
      continue;
    }
    if (c->hdr_len == 0 && n >= 14) {
      uint8_t size = header_size(data);
      memcpy(c->hdr, data, size);
      data += size;
      n -= size;
      header_done(c);
      continue;
    }
    c->hdr[c->hdr_len++] = *data++;
    n--;
    if (c->hdr_len == 2) c->hdr_need = header_size(c->hdr);
    if (c->hdr_len >= 2 && c->hdr_len == c->hdr_need) header_done(c);
  }
}

int conn_write(conn_t *c, const char *data, uint32_t len) {
  if (c->out_len == 0) {
    ssize_t w = write(c->fd, data, len);
    if (w == (ssize_t)len) return 0;
    if (w < 0 && errno != EAGAIN) return -1;
    if (w > 0) {
      data += w;
      len -= (uint32_t)w;
    }
  }
  c->out = realloc(c->out, c->out_len + len);
  memcpy(c->out + c->out_len, data, len);
  c->out_len += len;
  if (!c->want_write) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    epoll_ctl(G.epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_write = 1;
  }
  return 0;
}

int frame_send(conn_t *c, uint8_t opcode, const char *payload, uint32_t len) {
  uint8_t frame[14 + 4096];
  if (len > 4096) return -1;
  uint32_t off = 0;
  frame[off++] = 0x80 | opcode;
  if (len < 126) {
    frame[off++] = 0x80 | (uint8_t)len;
  } else {
    frame[off++] = 0x80 | 126;
    frame[off++] = (uint8_t)(len >> 8);
    frame[off++] = (uint8_t)len;
  }
  uint32_t mask = (uint32_t)rand();
  uint8_t *m = frame + off;
  memcpy(m, &mask, 4);
  off += 4;
  for (uint32_t i = 0; i < len; i++) frame[off + i] = (uint8_t)payload[i] ^ m[i & 3];
  return conn_write(c, (const char *)frame, off + len);
}
