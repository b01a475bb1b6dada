// A WebSocket load generator in C for the capacity benchmark (bench/native-generator.ts drives it).
//
// The Node generator (bench/load.ts) spends about 50 µs of CPU per delivered frame, so on a 2-core
// machine it ran out long before our relay did. This one keeps the same client behaviour (one TCP
// socket per participant, RFC 6455 client framing with a fresh mask per frame, one write per
// participant per pacing tick, every delivery read and timed) at close to the kernel's own cost.
//
// It knows nothing of the videocall protocol: TypeScript builds every byte it sends (frame
// templates, activation frames, RTT probes) and tells it where to stamp the sender, its user id and
// the send time, and which frame layouts to time on receipt. Commands arrive on stdin, one per line;
// every command is answered with one line on stdout ("ok", "result ..." or "error ...").
//
//   open <tag> <count>            then <count> lines:
//     p <port> <index> <receivers> <phase> <path> <userIdHex> <activationHex> <probeHex>
//   prefixes <a0> <a1> <m0> <m1>  the first two bytes of SESSION_ASSIGNED (ends a handshake) and of MEDIA
//   template <size> <payloadOffset> <timestampOffset> <uidOffsetA> <uidOffsetB> <hex>
//   layout <length> <payloadOffset> <timestampOffset>
//   stream <periodMs> <k> <size_0> ... <size_k-1>    a size of 0 sends the participant's RTT probe
//   run <tag> <magic> <runId> <warmupMs> <durationMs> <tickMs> <maxLocalBuffer> <drainMs> <sampleFile>
//     answers: result <deliveredInWindow> <sentInWindow> <windowMs> <expected> <lost> <samples>
//     and writes the window's delivery latencies (ms, float64, host order) to <sampleFile>
//   close <tag>
//   reset                         forgets templates, layouts and streams
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEMPLATES 32
#define MAX_LAYOUTS 64
#define MAX_STREAMS 8
#define MAX_CYCLE 256
#define MAX_FRAME (1 << 20)
#define SENDER_SLOTS 65536
#define HANDSHAKE_TIMEOUT_MS 15000

typedef struct {
  unsigned char *data;
  size_t len, cap, off; // unread bytes are data[off, len)
} buf_t;

typedef struct {
  size_t size, payload_offset, timestamp_offset, uid_offset[2];
  unsigned char *bytes;
} template_t;

typedef struct {
  size_t length, payload_offset, timestamp_offset;
} layout_t;

typedef struct {
  double period_ms;
  int k;
  size_t sizes[MAX_CYCLE];
} stream_t;

typedef struct {
  int fd;
  int index;     // the participant index stamped into its frames
  int receivers; // others in its room: each frame it sends is due that many times
  double phase;
  unsigned char uid[32];
  size_t uid_len;
  unsigned char *probe;
  size_t probe_len;
  buf_t out, in;
  uint64_t sent, delivered, stream_count[MAX_STREAMS];
  int closed;
  int want_out;
} conn_t;

typedef struct group {
  char tag[128];
  conn_t *conns;
  int n;
  struct group *next;
} group_t;

static template_t templates[MAX_TEMPLATES];
static int n_templates;
static layout_t layouts[MAX_LAYOUTS];
static int n_layouts;
static stream_t streams[MAX_STREAMS];
static int n_streams;
static unsigned char assigned_prefix[2], media_prefix[2]; // set by `prefixes` before any open
static group_t *groups;
static int epfd = -1;
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts); // the clock Node's process.hrtime reads (bench/load.ts monotonicMs)
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static uint32_t next_mask(void) {
  // xorshift64*: RFC 6455 wants a fresh, unpredictable mask per frame from a client
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "wsload: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static void reply(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static void buf_reserve(buf_t *b, size_t extra) {
  if (b->off > 0 && b->off == b->len) b->off = b->len = 0;
  if (b->len + extra <= b->cap) return;
  if (b->off > 0) { // compact before growing
    memmove(b->data, b->data + b->off, b->len - b->off);
    b->len -= b->off;
    b->off = 0;
    if (b->len + extra <= b->cap) return;
  }
  size_t cap = b->cap ? b->cap : 4096;
  while (cap < b->len + extra) cap *= 2;
  unsigned char *d = realloc(b->data, cap);
  if (d == NULL) die("out of memory (%zu bytes)", cap);
  b->data = d;
  b->cap = cap;
}

static size_t buf_pending(const buf_t *b) { return b->len - b->off; }

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/** Decodes hex into a fresh allocation; NULL when it is not hex. */
static unsigned char *from_hex(const char *hex, size_t *len) {
  size_t n = strlen(hex);
  if (n % 2 != 0) return NULL;
  unsigned char *out = malloc(n / 2 + 1);
  if (out == NULL) die("out of memory");
  for (size_t i = 0; i < n / 2; i++) {
    int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    out[i] = (unsigned char)(hi << 4 | lo);
  }
  *len = n / 2;
  return out;
}

/** Appends one masked client frame (FIN, `opcode`) of `len` bytes to `out`. */
static unsigned char *frame_append(buf_t *out, int opcode, const unsigned char *payload, size_t len) {
  buf_reserve(out, len + 14);
  unsigned char *h = out->data + out->len;
  size_t hl = 2;
  h[0] = 0x80 | opcode;
  if (len < 126) {
    h[1] = 0x80 | len;
  } else if (len < 65536) {
    h[1] = 0x80 | 126;
    h[2] = len >> 8;
    h[3] = len & 0xff;
    hl = 4;
  } else {
    h[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (uint64_t)len >> (56 - 8 * i) & 0xff;
    hl = 10;
  }
  uint32_t mask = next_mask();
  memcpy(h + hl, &mask, 4);
  unsigned char *p = h + hl + 4;
  if (payload != NULL) memcpy(p, payload, len);
  out->len += hl + 4 + len;
  return p; // the caller may patch the payload before apply_mask
}

static void apply_mask(unsigned char *payload, size_t len) {
  const unsigned char *m = payload - 4;
  uint32_t m32;
  memcpy(&m32, m, 4);
  uint64_t m64 = (uint64_t)m32 << 32 | m32;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, payload + i, 8);
    v ^= m64;
    memcpy(payload + i, &v, 8);
  }
  for (; i < len; i++) payload[i] ^= m[i & 3];
}

/** Writes what `c` has queued; the rest waits for EPOLLOUT. -1 when the socket is gone. */
static int flush_out(conn_t *c) {
  while (buf_pending(&c->out) > 0) {
    ssize_t w = write(c->fd, c->out.data + c->out.off, buf_pending(&c->out));
    if (w > 0) {
      c->out.off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = 1;
      }
      return 0;
    }
    c->closed = 1;
    return -1;
  }
  c->out.off = c->out.len = 0;
  if (c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = 0;
  }
  return 0;
}

// ---- receiving -------------------------------------------------------------------------------

typedef struct {
  uint32_t magic, run_id;
  int measuring;
  uint64_t window_delivered;
  double *samples;
  size_t n_samples, cap_samples;
  conn_t **by_sender; // sender index → its connection (rooms are whole on one generator)
} run_state_t;

static run_state_t *active_run;

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void on_binary(const unsigned char *p, size_t len) {
  run_state_t *r = active_run;
  if (r == NULL || len < 2) return;
  const layout_t *l = NULL;
  for (int i = 0; i < n_layouts; i++)
    if (layouts[i].length == len) {
      l = &layouts[i];
      break;
    }
  if (l == NULL || p[0] != media_prefix[0] || p[1] != media_prefix[1]) return;
  if (be32(p + l->payload_offset) != r->magic || be32(p + l->payload_offset + 4) != r->run_id) return;
  int sender = p[l->payload_offset + 8] << 8 | p[l->payload_offset + 9];
  conn_t *s = r->by_sender[sender];
  if (s == NULL) return;
  s->delivered++;
  if (!r->measuring) return;
  double sent_at;
  memcpy(&sent_at, p + l->timestamp_offset, 8); // little-endian, as stamped (x86-64 and arm64 are)
  r->window_delivered++;
  if (r->n_samples == r->cap_samples) {
    r->cap_samples = r->cap_samples ? r->cap_samples * 2 : 65536;
    r->samples = realloc(r->samples, r->cap_samples * sizeof(double));
    if (r->samples == NULL) die("out of memory");
  }
  r->samples[r->n_samples++] = now_ms() - sent_at;
}

/**
 * Parses the complete frames in `c->in`: binary messages go to `on_binary` (or, during a handshake,
 * to `on_handshake_frame`), pings are answered. Returns -1 on a close frame or a protocol error.
 */
static int parse_frames(conn_t *c, void (*frame)(conn_t *, const unsigned char *, size_t)) {
  for (;;) {
    size_t avail = buf_pending(&c->in);
    unsigned char *h = c->in.data + c->in.off;
    if (avail < 2) return 0;
    int opcode = h[0] & 0x0f;
    if ((h[1] & 0x80) != 0 || (h[0] & 0x80) == 0) return -1; // servers do not mask; no fragments expected
    size_t hl = 2, len = h[1] & 0x7f;
    if (len == 126) {
      if (avail < 4) return 0;
      len = (size_t)h[2] << 8 | h[3];
      hl = 4;
    } else if (len == 127) {
      if (avail < 10) return 0;
      len = 0;
      for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
      hl = 10;
    }
    if (len > MAX_FRAME) return -1;
    if (avail < hl + len) {
      buf_reserve(&c->in, hl + len - avail);
      return 0;
    }
    const unsigned char *p = h + hl;
    c->in.off += hl + len;
    if (opcode == 0x2) frame(c, p, len);
    else if (opcode == 0x9) {
      unsigned char pong[125];
      size_t n = len < sizeof pong ? len : sizeof pong;
      memcpy(pong, p, n);
      apply_mask(frame_append(&c->out, 0xA, pong, n), n);
      flush_out(c);
    } else if (opcode == 0x8) return -1;
  }
}

static void run_frame(conn_t *c, const unsigned char *p, size_t len) {
  (void)c;
  on_binary(p, len);
}

/** Reads what `c` has; -1 when it closed. */
static int read_conn(conn_t *c, void (*frame)(conn_t *, const unsigned char *, size_t)) {
  for (;;) {
    buf_reserve(&c->in, 65536);
    size_t room = c->in.cap - c->in.len;
    ssize_t r = read(c->fd, c->in.data + c->in.len, room);
    if (r > 0) {
      c->in.len += (size_t)r;
      if (parse_frames(c, frame) < 0) return -1;
      if ((size_t)r < room) return 0; // drained: the next read would say EAGAIN
      continue;
    }
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    return -1;
  }
}

// ---- connecting ------------------------------------------------------------------------------

static int assigned_seen;

static void handshake_frame(conn_t *c, const unsigned char *p, size_t len) {
  (void)c;
  if (len >= 2 && p[0] == assigned_prefix[0] && p[1] == assigned_prefix[1]) assigned_seen = 1;
}

/** Connects, upgrades and waits for SESSION_ASSIGNED; then sends the activation frame. NULL on success. */
static const char *open_conn(conn_t *c, int port, const char *path, const unsigned char *activation, size_t activation_len) {
  static char err[1024];
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd < 0) return strerror(errno);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); // benchmarks talk to 127.0.0.1 only
  if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
    snprintf(err, sizeof err, "connect 127.0.0.1:%d: %s", port, strerror(errno));
    return err;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // as browsers and the ws library do
  char req[1024];
  unsigned char key[16];
  for (int i = 0; i < 16; i += 4) {
    uint32_t m = next_mask();
    memcpy(key + i, &m, 4);
  }
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  char key64[25];
  for (int i = 0, o = 0; i < 16; i += 3) {
    uint32_t v = key[i] << 16 | (i + 1 < 16 ? key[i + 1] << 8 : 0) | (i + 2 < 16 ? key[i + 2] : 0);
    key64[o++] = b64[v >> 18 & 63];
    key64[o++] = b64[v >> 12 & 63];
    key64[o++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
    key64[o++] = i + 2 < 16 ? b64[v & 63] : '=';
    key64[o] = 0;
  }
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                   path, port, key64);
  if (n <= 0 || (size_t)n >= sizeof req || write(c->fd, req, n) != n) return "cannot send the upgrade request";
  struct timeval tv = {.tv_sec = HANDSHAKE_TIMEOUT_MS / 1000};
  setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  // the 101 response, then frames until SESSION_ASSIGNED (bytes after the headers stay in `in`)
  size_t header_end = 0;
  double deadline = now_ms() + HANDSHAKE_TIMEOUT_MS;
  assigned_seen = 0;
  while (!assigned_seen) {
    if (now_ms() > deadline) return "no SESSION_ASSIGNED within 15 s";
    buf_reserve(&c->in, 65536);
    ssize_t r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
    if (r <= 0) {
      snprintf(err, sizeof err, "handshake on %s: %s", path, r == 0 ? "closed by the server" : strerror(errno));
      return err;
    }
    c->in.len += (size_t)r;
    if (header_end == 0) {
      unsigned char *e = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
      if (e == NULL) continue;
      if (c->in.len < 12 || memcmp(c->in.data, "HTTP/1.1 101", 12) != 0) {
        size_t l = strcspn((char *)c->in.data, "\r");
        snprintf(err, sizeof err, "upgrade of %s refused: %.*s", path, (int)(l < 100 ? l : 100), c->in.data);
        return err;
      }
      header_end = (size_t)(e - c->in.data) + 4;
      c->in.off = header_end;
    }
    if (parse_frames(c, handshake_frame) < 0) return "the server closed the socket during the handshake";
  }
  apply_mask(frame_append(&c->out, 0x2, activation, activation_len), activation_len);
  fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) return strerror(errno);
  if (flush_out(c) < 0) return "the socket closed before activation";
  return NULL;
}

static group_t *find_group(const char *tag) {
  for (group_t *g = groups; g != NULL; g = g->next)
    if (strcmp(g->tag, tag) == 0) return g;
  return NULL;
}

static void free_conn(conn_t *c) {
  if (c->fd >= 0) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  free(c->out.data);
  free(c->in.data);
  free(c->probe);
}

static void close_group(group_t *g) {
  // a clean close (1000), then up to 2 s for the server's close or EOF, as bench/load.ts closeWs
  static const unsigned char code[] = {0x03, 0xe8};
  for (int i = 0; i < g->n; i++) {
    conn_t *c = &g->conns[i];
    if (c->fd < 0 || c->closed) continue;
    apply_mask(frame_append(&c->out, 0x8, code, 2), 2);
    flush_out(c);
  }
  double deadline = now_ms() + 2000;
  int open = 0;
  for (;;) {
    open = 0;
    for (int i = 0; i < g->n; i++) open += g->conns[i].fd >= 0 && !g->conns[i].closed;
    if (open == 0 || now_ms() > deadline) break;
    struct epoll_event evs[256];
    int k = epoll_wait(epfd, evs, 256, 50);
    for (int e = 0; e < k; e++) {
      conn_t *c = evs[e].data.ptr;
      if (evs[e].events & EPOLLOUT) flush_out(c);
      if (read_conn(c, run_frame) < 0) {
        c->closed = 1;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
      }
    }
  }
  for (int i = 0; i < g->n; i++) free_conn(&g->conns[i]);
  free(g->conns);
}

// ---- running ---------------------------------------------------------------------------------

static template_t *template_of(size_t size) {
  for (int i = 0; i < n_templates; i++)
    if (templates[i].size == size) return &templates[i];
  return NULL;
}

/** Queues one media frame of `size` from `c`, stamped with its sender, user id and the time. */
static int queue_media(conn_t *c, size_t size) {
  template_t *t = template_of(size);
  if (t == NULL) return -1;
  unsigned char *p = frame_append(&c->out, 0x2, t->bytes, t->size);
  for (int u = 0; u < 2; u++) memcpy(p + t->uid_offset[u], c->uid, c->uid_len);
  p[t->payload_offset + 8] = c->index >> 8 & 0xff;
  p[t->payload_offset + 9] = c->index & 0xff;
  double ts = now_ms();
  memcpy(p + t->timestamp_offset, &ts, 8);
  apply_mask(p, t->size);
  return 0;
}

static void handle_events(int timeout_ms) {
  struct epoll_event evs[512];
  int k = epoll_wait(epfd, evs, 512, timeout_ms);
  for (int e = 0; e < k; e++) {
    conn_t *c = evs[e].data.ptr;
    if (c->closed) continue;
    if (evs[e].events & EPOLLOUT) flush_out(c);
    if ((evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && read_conn(c, run_frame) < 0) {
      c->closed = 1;
      epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    }
  }
}

static int64_t outstanding(const conn_t *c) { return (int64_t)(c->sent * c->receivers) - (int64_t)c->delivered; }

static void run(group_t *g, uint32_t magic, uint32_t run_id, double warmup_ms, double duration_ms, double tick_ms, size_t max_local, double drain_ms, const char *sample_file) {
  for (int s = 0; s < n_streams; s++)
    for (int j = 0; j < streams[s].k; j++)
      if (streams[s].sizes[j] != 0 && template_of(streams[s].sizes[j]) == NULL) {
        reply("error no template of %zu bytes", streams[s].sizes[j]);
        return;
      }
  run_state_t r = {.magic = magic, .run_id = run_id};
  r.by_sender = calloc(SENDER_SLOTS, sizeof(conn_t *));
  if (r.by_sender == NULL) die("out of memory");
  for (int i = 0; i < g->n; i++) {
    conn_t *c = &g->conns[i];
    c->sent = c->delivered = 0;
    memset(c->stream_count, 0, sizeof c->stream_count);
    r.by_sender[c->index & (SENDER_SLOTS - 1)] = c;
  }
  active_run = &r;
  uint64_t window_sent = 0;
  double start = now_ms(), next_tick = start, measure_from = start + warmup_ms, measure_to = measure_from + duration_ms, t0 = 0, t1 = 0;
  int sending = 1;
  while (sending) {
    double now = now_ms();
    if (!r.measuring && t0 == 0 && now >= measure_from) {
      r.measuring = 1;
      t0 = now;
    }
    if (r.measuring && now >= measure_to) {
      r.measuring = 0;
      t1 = now;
      sending = 0;
      break;
    }
    if (now >= next_tick) {
      double elapsed = now - start;
      for (int i = 0; i < g->n; i++) {
        conn_t *c = &g->conns[i];
        if (c->closed || buf_pending(&c->out) >= max_local) continue;
        for (int s = 0; s < n_streams; s++) {
          const stream_t *st = &streams[s];
          int64_t due = (int64_t)floor(elapsed / st->period_ms - c->phase) + 1;
          while ((int64_t)c->stream_count[s] < due) {
            size_t size = st->sizes[c->stream_count[s] % st->k];
            if (size == 0) {
              apply_mask(frame_append(&c->out, 0x2, c->probe, c->probe_len), c->probe_len);
            } else {
              queue_media(c, size);
              c->sent++;
              if (r.measuring) window_sent++;
            }
            c->stream_count[s]++;
          }
        }
        if (!c->want_out) flush_out(c); // one write per participant per tick, as a browser's stack would
      }
      next_tick += tick_ms;
      if (next_tick < now) next_tick = now + tick_ms; // fell behind: do not burst to catch up
    }
    double wait = next_tick - now_ms();
    if (r.measuring || t0 == 0) {
      double edge = (t0 == 0 ? measure_from : measure_to) - now_ms();
      if (edge < wait) wait = edge;
    }
    handle_events(wait <= 0 ? 0 : (int)(wait + 0.999));
  }
  // let what is in flight arrive, so the next run starts clean
  double drain_until = now_ms() + drain_ms;
  for (;;) {
    int64_t left = 0;
    for (int i = 0; i < g->n; i++)
      if (!g->conns[i].closed && outstanding(&g->conns[i]) > 0) left += outstanding(&g->conns[i]);
    if (left == 0 || now_ms() >= drain_until) break;
    handle_events(20);
  }
  active_run = NULL;
  uint64_t expected = 0, lost = 0;
  for (int i = 0; i < g->n; i++) {
    conn_t *c = &g->conns[i];
    expected += c->sent * c->receivers;
    if (outstanding(c) > 0) lost += (uint64_t)outstanding(c);
  }
  FILE *f = fopen(sample_file, "wb");
  if (f == NULL || fwrite(r.samples, sizeof(double), r.n_samples, f) != r.n_samples || fclose(f) != 0) {
    reply("error cannot write %s: %s", sample_file, strerror(errno));
  } else {
    reply("result %llu %llu %.3f %llu %llu %zu", (unsigned long long)r.window_delivered, (unsigned long long)window_sent, t1 - t0,
          (unsigned long long)expected, (unsigned long long)lost, r.n_samples);
  }
  free(r.samples);
  free(r.by_sender);
}

// ---- commands --------------------------------------------------------------------------------

static char *line;
static size_t line_cap;

static char *read_line(void) {
  ssize_t n = getline(&line, &line_cap, stdin);
  if (n < 0) return NULL;
  while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
  return line;
}

static void cmd_open(char *args) {
  char tag[128];
  int count;
  if (sscanf(args, "%127s %d", tag, &count) != 2 || count <= 0) return reply("error usage: open <tag> <count>");
  group_t *g = find_group(tag);
  if (g != NULL) return reply("error %s is open already", tag);
  g = calloc(1, sizeof *g);
  snprintf(g->tag, sizeof g->tag, "%s", tag);
  g->conns = calloc(count, sizeof(conn_t));
  g->n = count;
  for (int i = 0; i < count; i++) g->conns[i].fd = -1;
  const char *failure = NULL;
  for (int i = 0; i < count; i++) {
    char *l = read_line();
    if (l == NULL) die("stdin closed during open");
    if (failure != NULL) continue; // consume the rest of the block
    conn_t *c = &g->conns[i];
    int port;
    char path[512], uid[128], act[8192], probe[8192];
    if (sscanf(l, "p %d %d %d %lf %511s %127s %8191s %8191s", &port, &c->index, &c->receivers, &c->phase, path, uid, act, probe) != 8) {
      failure = "usage: p <port> <index> <receivers> <phase> <path> <userIdHex> <activationHex> <probeHex>";
      continue;
    }
    size_t uid_len, act_len;
    unsigned char *u = from_hex(uid, &uid_len), *a = from_hex(act, &act_len);
    c->probe = from_hex(probe, &c->probe_len);
    if (u == NULL || a == NULL || c->probe == NULL || uid_len > sizeof c->uid) {
      failure = "bad hex in a participant line";
    } else {
      memcpy(c->uid, u, uid_len);
      c->uid_len = uid_len;
      failure = open_conn(c, port, path, a, act_len);
      if (failure != NULL) c->closed = 1;
    }
    free(u);
    free(a);
  }
  g->next = groups;
  groups = g;
  if (failure != NULL) {
    groups = g->next;
    close_group(g);
    free(g);
    return reply("error %s", failure);
  }
  reply("ok");
}

static void cmd_close(char *args) {
  group_t **pp = &groups;
  while (*pp != NULL && strcmp((*pp)->tag, args) != 0) pp = &(*pp)->next;
  if (*pp == NULL) return reply("ok"); // nothing open under that tag
  group_t *g = *pp;
  *pp = g->next;
  close_group(g);
  free(g);
  reply("ok");
}

static void cmd_template(char *args) {
  if (n_templates == MAX_TEMPLATES) return reply("error too many templates");
  template_t *t = &templates[n_templates];
  char *hex = NULL;
  if (sscanf(args, "%zu %zu %zu %zu %zu %ms", &t->size, &t->payload_offset, &t->timestamp_offset, &t->uid_offset[0], &t->uid_offset[1], &hex) != 6) {
    free(hex);
    return reply("error usage: template <size> <payloadOffset> <timestampOffset> <uidOffsetA> <uidOffsetB> <hex>");
  }
  size_t len;
  t->bytes = from_hex(hex, &len);
  free(hex);
  if (t->bytes == NULL || len != t->size || t->payload_offset + 10 > len || t->timestamp_offset + 8 > len) {
    free(t->bytes);
    return reply("error template of %zu bytes does not match its hex or offsets", t->size);
  }
  n_templates++;
  reply("ok");
}

static void cmd_layout(char *args) {
  if (n_layouts == MAX_LAYOUTS) return reply("error too many layouts");
  layout_t *l = &layouts[n_layouts];
  if (sscanf(args, "%zu %zu %zu", &l->length, &l->payload_offset, &l->timestamp_offset) != 3 || l->payload_offset + 10 > l->length || l->timestamp_offset + 8 > l->length)
    return reply("error usage: layout <length> <payloadOffset> <timestampOffset>");
  n_layouts++;
  reply("ok");
}

static void cmd_stream(char *args) {
  if (n_streams == MAX_STREAMS) return reply("error too many streams");
  stream_t *s = &streams[n_streams];
  int used;
  if (sscanf(args, "%lf %d%n", &s->period_ms, &s->k, &used) != 2 || s->period_ms <= 0 || s->k <= 0 || s->k > MAX_CYCLE)
    return reply("error usage: stream <periodMs> <k> <size_0> ... <size_k-1> (k ≤ %d)", MAX_CYCLE);
  char *p = args + used;
  for (int j = 0; j < s->k; j++) {
    char *end;
    s->sizes[j] = strtoul(p, &end, 10);
    if (end == p) return reply("error stream lists fewer than %d sizes", s->k);
    p = end;
  }
  n_streams++;
  reply("ok");
}

static void cmd_run(char *args) {
  char tag[128], file[1024];
  unsigned magic, run_id;
  double warmup, duration, tick, drain;
  size_t max_local;
  if (sscanf(args, "%127s %u %u %lf %lf %lf %zu %lf %1023s", tag, &magic, &run_id, &warmup, &duration, &tick, &max_local, &drain, file) != 9 || tick <= 0 || duration <= 0 || drain < 0)
    return reply("error usage: run <tag> <magic> <runId> <warmupMs> <durationMs> <tickMs> <maxLocalBuffer> <drainMs> <sampleFile>");
  group_t *g = find_group(tag);
  if (g == NULL) return reply("error nothing open under %s", tag);
  run(g, magic, run_id, warmup, duration, tick, max_local, drain, file);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN); // a socket the server closed answers EPIPE instead of killing the generator
  rng_state ^= (uint64_t)getpid() << 32 ^ (uint64_t)(now_ms() * 1e3);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1: %s", strerror(errno));
  setvbuf(stdout, NULL, _IOLBF, 0);
  char *l;
  while ((l = read_line()) != NULL) {
    char *sp = strchr(l, ' ');
    char *args = sp ? sp + 1 : l + strlen(l);
    if (sp) *sp = 0;
    if (strcmp(l, "open") == 0) cmd_open(args);
    else if (strcmp(l, "close") == 0) cmd_close(args);
    else if (strcmp(l, "template") == 0) cmd_template(args);
    else if (strcmp(l, "layout") == 0) cmd_layout(args);
    else if (strcmp(l, "stream") == 0) cmd_stream(args);
    else if (strcmp(l, "run") == 0) cmd_run(args);
    else if (strcmp(l, "prefixes") == 0) {
      unsigned a0, a1, m0, m1;
      if (sscanf(args, "%u %u %u %u", &a0, &a1, &m0, &m1) != 4 || (a0 | a1 | m0 | m1) > 255) reply("error usage: prefixes <a0> <a1> <m0> <m1>");
      else {
        assigned_prefix[0] = a0;
        assigned_prefix[1] = a1;
        media_prefix[0] = m0;
        media_prefix[1] = m1;
        reply("ok");
      }
    } else if (strcmp(l, "reset") == 0) {
      for (int i = 0; i < n_templates; i++) free(templates[i].bytes);
      n_templates = n_layouts = n_streams = 0;
      reply("ok");
    } else if (l[0] != 0) reply("error unknown command %s", l);
  }
  // stdin closed: the parent is gone or done; nothing may outlive the benchmark
  while (groups != NULL) {
    group_t *g = groups;
    groups = g->next;
    close_group(g);
    free(g);
  }
  return 0;
}
