/* What a client says after the upgrade: auth, subscribe, and the payload checks of probes. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "sbload.h"

static int has(const char *p, uint32_t len, const char *needle) {
  return memmem(p, len, needle, strlen(needle)) != NULL;
}

static int starts(const char *p, uint32_t len, const char *prefix) {
  size_t n = strlen(prefix);
  return len >= n && memcmp(p, prefix, n) == 0;
}

/* Expands {i} (connection index) and {g} (its group) in a room pattern. */
static void room_name(const conn_t *c, const char *pattern, char *out, size_t cap) {
  size_t o = 0;
  for (const char *s = pattern; *s && o + 24 < cap; s++) {
    if (s[0] == '{' && (s[1] == 'i' || s[1] == 'g') && s[2] == '}') {
      int v = s[1] == 'i' ? c->idx : c->idx / G.opt.group_size;
      o += (size_t)snprintf(out + o, cap - o, "%d", v);
      s += 2;
    } else {
      out[o++] = *s;
    }
  }
  out[o] = 0;
}

static void send_subscribes(conn_t *c) {
  char room[ROOM_LEN];
  char msg[256];
  for (int r = 0; r < G.opt.room_count; r++) {
    room_name(c, G.opt.rooms[r], room, sizeof room);
    int n = G.opt.proto == PROTO_SIO
                ? snprintf(msg, sizeof msg, "42[\"subscribe\",{\"room_id\":\"%s\"}]", room)
                : snprintf(msg, sizeof msg,
                           "{\"type\":\"subscribe\",\"channel\":\"chat.messages\","
                           "\"room_id\":\"%s\",\"request_id\":\"q%d\"}",
                           room, r);
    frame_send(c, 0x1, msg, (uint32_t)n);
  }
}

static void subscribed(conn_t *c) {
  uint64_t t = now_us();
  c->state = ST_SUBSCRIBED;
  G.subscribed++;
  G.t_last_done_us = t;
  hist_add(&G.connect, t - c->t_start_us);
  if (c->kind == KIND_SLOW && !c->want_write) {
    struct epoll_event ev = {.events = 0, .data.ptr = c};
    epoll_ctl(G.epfd, EPOLL_CTL_MOD, c->fd, &ev);
  }
}

static void on_ack(conn_t *c) {
  if (++c->acks == G.opt.room_count) subscribed(c);
}

/* Keep-alives: Engine.IO's "2" wants "3"; Switchboard closes clients that stay silent. */
void session_on_short(conn_t *c, const char *p, uint32_t len) {
  if (G.opt.proto == PROTO_SIO && len == 1 && p[0] == '2') frame_send(c, 0x1, "3", 1);
  if (G.opt.proto == PROTO_SB && starts(p, len, "{\"type\":\"ping\"")) {
    static const char pong[] = "{\"type\":\"pong\"}";
    frame_send(c, 0x1, pong, sizeof pong - 1);
  }
}

void session_on_text(conn_t *c, const char *p, uint32_t len) {
  if (G.opt.proto == PROTO_SIO) {
    if (len == 1 && p[0] == '2') frame_send(c, 0x1, "3", 1);
    else if (starts(p, len, "40")) send_subscribes(c);
    else if (starts(p, len, "0")) frame_send(c, 0x1, "40", 2);
    else if (starts(p, len, "44")) conn_fail(c, FAIL_AUTH);
    else if (starts(p, len, "42[\"subscription_success\"")) on_ack(c);
    else if (starts(p, len, "42[\"error\"")) conn_fail(c, FAIL_SUBSCRIBE);
    return;
  }
  if (starts(p, len, "{\"type\":\"ping\"")) session_on_short(c, p, len);
  else if (has(p, len, "\"subscription_success\"")) on_ack(c);
  else if (has(p, len, "\"auth_success\"")) send_subscribes(c);
  else if (has(p, len, "\"type\":\"error\"")) conn_fail(c, c->acks ? FAIL_SUBSCRIBE : FAIL_AUTH);
}

static int read_int(const char *p, uint32_t len, const char *key, int64_t *out) {
  const char *at = memmem(p, len, key, strlen(key));
  if (!at) return -1;
  *out = strtoll(at + strlen(key), NULL, 10);
  return 0;
}

static void check_order(conn_t *c, int64_t topic, int64_t seq) {
  topic_seq_t *slot = NULL;
  for (int i = 0; i < MAX_ROOMS; i++) {
    if (c->seqs[i].topic == topic || c->seqs[i].topic < 0) {
      slot = &c->seqs[i];
      break;
    }
  }
  if (!slot) return;
  if (slot->topic < 0) {
    slot->topic = (int32_t)topic;
  } else if (seq == slot->last_seq) {
    G.c.duplicates++;
  } else if (seq < slot->last_seq) {
    G.c.order_errors++;
  } else if (seq > slot->last_seq + 1) {
    G.c.gaps += (uint64_t)(seq - slot->last_seq - 1);
  }
  if (seq > slot->last_seq) slot->last_seq = seq;
}

/* Probes check the frame's shape, then latency from the intended send time and order. */
void session_on_event(conn_t *c, const char *p, uint32_t len) {
  if (c->kind != KIND_PROBE) return;
  int ok = G.opt.proto == PROTO_SIO ? starts(p, len, "42[\"event\",{") : starts(p, len, "{");
  ok = ok && has(p, len, "\"type\":\"event\"");
  int64_t topic, seq, sent;
  if (!ok || read_int(p, len, "\"bk\":", &topic) || read_int(p, len, "\"bs\":", &seq) ||
      read_int(p, len, "\"bt\":", &sent)) {
    G.c.bad_payload++;
    return;
  }
  uint64_t now = now_us();
  hist_add(&G.c.latency, now > (uint64_t)sent ? now - (uint64_t)sent : 0);
  check_order(c, topic, seq);
}
